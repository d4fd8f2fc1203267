"""A stand-in for Nav2 for the navigator tests: an rclpy action server of
nav2_msgs/action/NavigateToPose on /navigate_to_pose that drives the fake
robot (tests/ros/fake_robot.py) to the goal through /cmd_vel, reading /odom,
for `seconds`. It publishes Nav2's feedback (distance remaining, one
recovery half way, navigation time) and:
- a goal with x < -5 is aborted as Nav2 does when no path exists;
- a goal with x > 50 is aborted as Nav2 does when the robot makes no progress;
- a cancel request stops the robot and ends the goal as canceled.
It prints one JSON line per event (accepted with the goal's frame, done,
aborted, canceled)."""
import json
import threading
import math
import os
import sys
import time

import rclpy
from rclpy.action import ActionServer, CancelResponse
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from nav2_msgs.action import NavigateToPose

seconds = float(sys.argv[1])
rclpy.init()
node = Node("fake_nav2")
pose = {"x": 0.0, "y": 0.0, "th": 0.0}


def on_odom(m):
    q = m.pose.pose.orientation
    pose.update(x=m.pose.pose.position.x, y=m.pose.pose.position.y,
                th=math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z)))


node.create_subscription(Odometry, "/odom", on_odom, 10)
# NAV2_CMD_TOPIC: where the controller's commands go (/cmd_vel_nav when the
# bridge relays them to the base, as a remapped Nav2 does).
cmd = node.create_publisher(Twist, os.environ.get("NAV2_CMD_TOPIC", "/cmd_vel"), 10)


_say_lock = threading.Lock()


def say(**event):
    # One write per line, under a lock: callbacks on several executor threads
    # would otherwise interleave print()'s text and its newline.
    with _say_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def drive(v, w):
    t = Twist()
    t.linear.x, t.angular.z = float(v), float(w)
    cmd.publish(t)


def execute(goal):
    target = goal.request.pose.pose.position
    stamp = goal.request.pose.header.stamp
    say(event="accepted", frame=goal.request.pose.header.frame_id, x=target.x, y=target.y,
        stamp=stamp.sec + stamp.nanosec * 1e-9)
    result = NavigateToPose.Result()
    if target.x < -5 or target.x > 50:
        goal.abort()
        # As Jazzy's navigator passes on its servers' codes: the planner's
        # NO_VALID_PATH, the controller's FAILED_TO_MAKE_PROGRESS.
        result.error_code = 208 if target.x < -5 else 105
        result.error_msg = ("Failed to compute path: no valid path found" if target.x < -5
                            else "Failed to make progress: robot is stuck")
        say(event="aborted")
        return result
    start, first = time.time(), math.hypot(target.x - pose["x"], target.y - pose["y"])
    while True:
        if goal.is_cancel_requested:
            drive(0, 0)
            goal.canceled()
            say(event="canceled")
            return result
        dx, dy = target.x - pose["x"], target.y - pose["y"]
        dist = math.hypot(dx, dy)
        if dist < 0.02:
            drive(0, 0)
            break
        err = math.atan2(dy, dx) - pose["th"]
        err = math.atan2(math.sin(err), math.cos(err))
        drive(min(0.25, dist) if abs(err) < 0.3 else 0.0, max(-1.0, min(1.0, 2.0 * err)))
        fb = NavigateToPose.Feedback()
        fb.distance_remaining = float(dist)
        fb.number_of_recoveries = 1 if dist < first / 2 else 0
        elapsed = time.time() - start
        fb.navigation_time.sec, fb.navigation_time.nanosec = int(elapsed), int((elapsed % 1) * 1e9)
        fb.current_pose.pose.position.x, fb.current_pose.pose.position.y = pose["x"], pose["y"]
        goal.publish_feedback(fb)
        time.sleep(0.05)
    time.sleep(0.1)  # the robot's odometry shows it at rest
    goal.succeed()
    say(event="done")
    return result


ActionServer(node, NavigateToPose, "/navigate_to_pose", execute_callback=execute,
             cancel_callback=lambda _: CancelResponse.ACCEPT)
executor = MultiThreadedExecutor()
executor.add_node(node)
end = time.time() + seconds
while time.time() < end:
    executor.spin_once(timeout_sec=0.05)
node.destroy_node()
rclpy.shutdown()
