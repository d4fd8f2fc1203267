"""A person at the robot, as an rclpy peer:
- `press SECONDS [TOPIC]`: presses the e-stop (std_msgs/Bool true on TOPIC,
  /e_stop by default) every 0.1 s for SECONDS, from when someone listens,
  and prints when it first pressed;
- `clear NODE`: calls NODE/clear_e_stop (std_srvs/srv/Trigger) and prints
  the answer as one JSON line;
- `execute CODE`: runs CODE through /codeact/execute (codeact_interfaces)
  and prints the answer's status, error and duration;
- `navigate X Y SECONDS`: sends Nav2 a NavigateToPose goal itself (not
  through codeact), lets it run SECONDS, cancels it, and prints whether it
  was accepted."""
import json
import sys
import time

import rclpy
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

rclpy.init()
node = rclpy.create_node("person")
if sys.argv[1] == "press":
    button = node.create_publisher(Bool, sys.argv[3] if len(sys.argv) > 3 else "/e_stop", 10)
    # Pressed once someone listens, so discovery does not swallow it.
    deadline = time.time() + 20
    while button.get_subscription_count() == 0 and time.time() < deadline:
        time.sleep(0.02)
    pressed = time.time()
    end = pressed + float(sys.argv[2])
    while time.time() < end:
        button.publish(Bool(data=True))
        time.sleep(0.1)
    print(json.dumps({"pressed": pressed}), flush=True)
elif sys.argv[1] == "clear":
    client = node.create_client(Trigger, sys.argv[2] + "/clear_e_stop")
    if not client.wait_for_service(timeout_sec=20):
        print(json.dumps({"error": "no clear_e_stop service"}), flush=True)
        sys.exit(1)
    future = client.call_async(Trigger.Request())
    rclpy.spin_until_future_complete(node, future, timeout_sec=20)
    answer = future.result()
    print(json.dumps({"success": answer.success, "message": answer.message}), flush=True)
elif sys.argv[1] == "execute":
    from codeact_interfaces.srv import Execute
    client = node.create_client(Execute, "/codeact/execute")
    if not client.wait_for_service(timeout_sec=30):
        print(json.dumps({"error": "no execute service"}), flush=True)
        sys.exit(1)
    future = client.call_async(Execute.Request(code=sys.argv[2], timeout=60.0))
    rclpy.spin_until_future_complete(node, future, timeout_sec=90)
    a = future.result()
    print(json.dumps({"status": a.status, "error_type": a.error_type, "error_message": a.error_message,
                      "duration_ms": a.duration_ms, "done": time.time()}), flush=True)
elif sys.argv[1] == "navigate":
    from rclpy.action import ActionClient
    from nav2_msgs.action import NavigateToPose
    client = ActionClient(node, NavigateToPose, "/navigate_to_pose")
    if not client.wait_for_server(timeout_sec=20):
        print(json.dumps({"error": "no Nav2"}), flush=True)
        sys.exit(1)
    goal = NavigateToPose.Goal()
    goal.pose.header.frame_id = "odom"
    goal.pose.pose.position.x, goal.pose.pose.position.y = float(sys.argv[2]), float(sys.argv[3])
    goal.pose.pose.orientation.w = 1.0
    sent = client.send_goal_async(goal)
    rclpy.spin_until_future_complete(node, sent, timeout_sec=20)
    handle = sent.result()
    end = time.time() + float(sys.argv[4])
    while time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    if handle.accepted:
        cancelled = handle.cancel_goal_async()
        rclpy.spin_until_future_complete(node, cancelled, timeout_sec=5)
    print(json.dumps({"accepted": handle.accepted}), flush=True)
node.destroy_node()
rclpy.shutdown()
