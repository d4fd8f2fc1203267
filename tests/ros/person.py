"""A person at the robot, as an rclpy peer:
- `press SECONDS`: presses the e-stop (std_msgs/Bool true on /e_stop) every
  0.1 s for SECONDS, from when someone listens;
- `clear NODE`: calls NODE/clear_e_stop (std_srvs/srv/Trigger) and prints
  the answer as one JSON line."""
import json
import sys
import time

import rclpy
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

rclpy.init()
node = rclpy.create_node("person")
if sys.argv[1] == "press":
    button = node.create_publisher(Bool, "/e_stop", 10)
    # Pressed once someone listens, so discovery does not swallow it.
    deadline = time.time() + 20
    while button.get_subscription_count() == 0 and time.time() < deadline:
        time.sleep(0.02)
    end = time.time() + float(sys.argv[2])
    while time.time() < end:
        button.publish(Bool(data=True))
        time.sleep(0.1)
elif sys.argv[1] == "clear":
    client = node.create_client(Trigger, sys.argv[2] + "/clear_e_stop")
    if not client.wait_for_service(timeout_sec=20):
        print(json.dumps({"error": "no clear_e_stop service"}), flush=True)
        sys.exit(1)
    future = client.call_async(Trigger.Request())
    rclpy.spin_until_future_complete(node, future, timeout_sec=20)
    answer = future.result()
    print(json.dumps({"success": answer.success, "message": answer.message}), flush=True)
node.destroy_node()
rclpy.shutdown()
