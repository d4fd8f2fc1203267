"""An rclpy node that plays a robot for the ROS backend: integrates the
/cmd_vel it receives into /odom (50 Hz), publishes a 360-ray /scan (10 Hz)
with a wall 5 m ahead, a camera frame on /camera/image_raw (10 Hz, bgr8
16x12: left half red, right half blue) until something arrives on
/camera_off, and a latched-ish /chatter string, and records every command.
After `seconds` it prints what it recorded as one JSON line. With
FAKE_STAMPED=1 it takes geometry_msgs/TwistStamped on /cmd_vel instead, as
Jazzy's diff_drive_controller does, and records each command's frame and stamp.
With FAKE_TF="x,y,theta" it localizes: it publishes map -> odom with that
offset on /tf (20 Hz) until something arrives on /tf_off; FAKE_TF_TOPIC
names another topic (relative: in its namespace) and FAKE_TF_FRAMES="map,odom"
other frames. With
FAKE_GRIPPER=1 it serves /gripper (std_srvs/SetBool, grasping "cup") and
publishes a cup 0.3 m ahead on /detections (JSON, 10 Hz); every gripper
request is recorded. With FAKE_NS=/name it runs under that namespace: every
name but /tf and /tf_off is relative (cmd_vel is /name/cmd_vel), as a robot
of a fleet's is."""
import json
import math
import os
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from sensor_msgs.msg import Image, LaserScan
from std_msgs.msg import String
from std_srvs.srv import SetBool

seconds = float(sys.argv[1])
rclpy.init()
node = Node("fake_robot", namespace=os.environ.get("FAKE_NS", ""))
state = {"x": 0.0, "y": 0.0, "th": 0.0, "v": 0.0, "w": 0.0}
cmds = []


stamped = os.environ.get("FAKE_STAMPED") == "1"
headers = []


def on_cmd(m):
    if stamped:
        headers.append((m.header.frame_id, m.header.stamp.sec + m.header.stamp.nanosec * 1e-9))
        m = m.twist
    cmds.append((time.time(), m.linear.x, m.angular.z))
    state["v"], state["w"] = m.linear.x, m.angular.z


node.create_subscription(TwistStamped if stamped else Twist, "cmd_vel", on_cmd, 10)
odom_pub = node.create_publisher(Odometry, "odom", 10)
scan_pub = node.create_publisher(LaserScan, "scan", qos_profile_sensor_data)
chatter = node.create_publisher(String, "chatter", 10)
heard = []
node.create_subscription(String, "from_code", lambda m: heard.append(m.data), 10)
# A type codeact's r2r is not built with: it publishes it through the type
# support it loads at run time.
from lifecycle_msgs.msg import State as LifecycleState  # noqa: E402
heard_states = []
node.create_subscription(LifecycleState, "lifecycle_state",
                         lambda m: heard_states.append([m.id, m.label]), 10)
robot_state = node.create_publisher(LifecycleState, "robot_lifecycle", 10)
from lifecycle_msgs.srv import ChangeState  # noqa: E402


def on_change_state(request, response):
    response.success = request.transition.id == 3 and request.transition.label == "activate"
    return response


node.create_service(ChangeState, "change_state", on_change_state)
camera_pub = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
camera_on = [True]
node.create_subscription(String, "camera_off", lambda m: camera_on.__setitem__(0, False), 10)
frame = Image(width=16, height=12, encoding="bgr8", step=16 * 3)
frame.data = bytes(([0, 0, 255] * 8 + [255, 0, 0] * 8) * 12)

gripper_calls = []
detections_pub = None
if os.environ.get("FAKE_GRIPPER") == "1":
    def on_gripper(request, response):
        gripper_calls.append(request.data)
        return SetBool.Response(success=True, message="cup" if request.data else "")
    node.create_service(SetBool, "gripper", on_gripper)
    detections_pub = node.create_publisher(String, "detections", 10)
cup = json.dumps([{"name": "cup", "kind": "cup", "colour": "red", "x": 0.3, "y": 0.0, "size": 0.06}])

tf_offset = [float(v) for v in os.environ["FAKE_TF"].split(",")] if os.environ.get("FAKE_TF") else None
tf_on = [tf_offset is not None]
if tf_offset:
    from geometry_msgs.msg import TransformStamped
    from tf2_msgs.msg import TFMessage
    tf_pub = node.create_publisher(TFMessage, os.environ.get("FAKE_TF_TOPIC", "/tf"), 10)
    tf_frames = os.environ.get("FAKE_TF_FRAMES", "map,odom").split(",")
    node.create_subscription(String, "/tf_off", lambda m: tf_on.__setitem__(0, False), 10)
last_tf = 0.0

end = time.time() + seconds
last = time.time()
last_scan = 0.0
while time.time() < end:
    rclpy.spin_once(node, timeout_sec=0.02)
    now = time.time()
    dt, last = now - last, now
    state["th"] += state["w"] * dt
    state["x"] += state["v"] * math.cos(state["th"]) * dt
    state["y"] += state["v"] * math.sin(state["th"]) * dt
    o = Odometry()
    o.header.frame_id = "odom"
    o.pose.pose.position.x, o.pose.pose.position.y = state["x"], state["y"]
    o.pose.pose.orientation.z, o.pose.pose.orientation.w = math.sin(state["th"] / 2), math.cos(state["th"] / 2)
    o.twist.twist.linear.x, o.twist.twist.angular.z = state["v"], state["w"]
    odom_pub.publish(o)
    if tf_on[0] and now - last_tf >= 0.05:
        last_tf = now
        t = TransformStamped()
        t.header.frame_id, t.child_frame_id = tf_frames[0], tf_frames[1]
        t.transform.translation.x, t.transform.translation.y = tf_offset[0], tf_offset[1]
        t.transform.rotation.z, t.transform.rotation.w = math.sin(tf_offset[2] / 2), math.cos(tf_offset[2] / 2)
        tf_pub.publish(TFMessage(transforms=[t]))
    if now - last_scan >= 0.1:
        last_scan = now
        s = LaserScan()
        s.angle_min, s.angle_increment = -math.pi, 2 * math.pi / 360
        s.angle_max = s.angle_min + 359 * s.angle_increment
        s.range_min, s.range_max = 0.1, 10.0
        s.ranges = [5.0] * 360
        scan_pub.publish(s)
        if camera_on[0]:
            camera_pub.publish(frame)
        chatter.publish(String(data="hello from the robot"))
        robot_state.publish(LifecycleState(id=3, label="active"))
        if detections_pub:
            detections_pub.publish(String(data=cup))

print(json.dumps({"cmds": cmds, "heard": heard, "heard_states": heard_states, "x": state["x"], "headers": headers,
                  "gripper": gripper_calls}))
node.destroy_node()
rclpy.shutdown()
