"""An rclpy peer that plays the part of a ROS client of `codeact sim --ros`:
drives the robot with /cmd_vel for a while, then stops sending, and reports
what it saw on /odom, /scan and /battery_state as one JSON line."""
import json
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from sensor_msgs.msg import BatteryState, LaserScan

drive_s, after_s = float(sys.argv[1]), float(sys.argv[2])
rclpy.init()
node = Node("drive_peer")
odom, scans, batteries = [], [], []
node.create_subscription(Odometry, "/odom", lambda m: odom.append((time.time(), m.pose.pose.position.x, m.twist.twist.linear.x)), 10)
node.create_subscription(LaserScan, "/scan", lambda m: scans.append(len(m.ranges)), qos_profile_sensor_data)
node.create_subscription(BatteryState, "/battery_state", lambda m: batteries.append(m.percentage), 10)
pub = node.create_publisher(Twist, "/cmd_vel", 10)

# Wait until the simulator is heard from, so the drive is not lost to discovery.
deadline = time.time() + 20
while not odom and time.time() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
start = time.time()
stopped_at = start + drive_s
while time.time() < stopped_at + after_s:
    if time.time() < stopped_at:
        cmd = Twist()
        cmd.linear.x = 0.4
        pub.publish(cmd)
    rclpy.spin_once(node, timeout_sec=0.02)

x_start = next((x for t, x, v in odom if t >= start), None)
x_stop = next((x for t, x, v in odom if t >= stopped_at), None)
tail = [(x, v) for t, x, v in odom if t >= stopped_at + after_s - 0.3]
print(json.dumps({
    "odom": len(odom), "scans": len(scans), "rays": scans[-1] if scans else 0,
    "batteries": len(batteries), "x_start": x_start, "x_stop": x_stop,
    "tail_x": [x for x, v in tail], "tail_v": [v for x, v in tail],
}))
node.destroy_node()
rclpy.shutdown()
