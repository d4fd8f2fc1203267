"""The e-stop figure with Nav2 under the governor (`codeact bench --suite
ros`): plays Nav2's controller, publishing 0.2 m/s on /cmd_vel_nav at 20 Hz
to a codeact process whose profile relays it to the base's /cmd_vel, and
presses the e-stop `cycles` times. Each time it measures from the press until
the first zero on /cmd_vel, and counts commands other than zero after that
while it goes on publishing; then it clears the e-stop (/codeact/clear_e_stop)
and waits for the relay to drive again. Prints one JSON line."""
import json
import sys
import time

import rclpy
from geometry_msgs.msg import Twist
from std_msgs.msg import Bool
from std_srvs.srv import Trigger

cycles = int(sys.argv[1])
rclpy.init()
node = rclpy.create_node("relay_estop")
nav = node.create_publisher(Twist, "/cmd_vel_nav", 10)
button = node.create_publisher(Bool, "/e_stop", 10)
clear = node.create_client(Trigger, "/codeact/clear_e_stop")
base = []
node.create_subscription(Twist, "/cmd_vel", lambda m: base.append((time.time(), m.linear.x)), 100)


def drive_for(seconds):
    end = time.time() + seconds
    next_cmd = 0.0
    while time.time() < end:
        if time.time() >= next_cmd:
            cmd = Twist()
            cmd.linear.x = 0.2
            nav.publish(cmd)
            next_cmd = time.time() + 0.05
        rclpy.spin_once(node, timeout_sec=0.001)


def moving_since(t):
    return any(at > t and v > 0.0 for at, v in base)


if not clear.wait_for_service(timeout_sec=30):
    print(json.dumps({"error": "no /codeact/clear_e_stop"}))
    sys.exit(1)
latencies, moved_after, trace = [], 0, []
for _ in range(cycles):
    future = clear.call_async(Trigger.Request())
    rclpy.spin_until_future_complete(node, future, timeout_sec=5)
    started = time.time()
    while not moving_since(started) and time.time() < started + 10:
        drive_for(0.1)
    if not moving_since(started):
        print(json.dumps({"error": "the relay did not drive the base"}))
        sys.exit(1)
    pressed = time.time()
    button.publish(Bool(data=True))
    drive_for(0.5)
    zeros = [at for at, v in base if at > pressed and v == 0.0]
    if zeros:
        latencies.append((zeros[0] - pressed) * 1000)
        late = [(round((at - pressed) * 1000, 2), v) for at, v in base if at > zeros[0] and v != 0.0]
        if late:
            trace.append([(round((at - pressed) * 1000, 2), v) for at, v in base if at > pressed - 0.2])
        moved_after += len(late)
print(json.dumps({"estop_ms": latencies, "moved_after": moved_after, "trace": trace}))
node.destroy_node()
rclpy.shutdown()
