"""A simulator's clock for the sim-time tests: publishes rosgraph_msgs/Clock
on /clock every 10 ms for `seconds`, starting at START (500 s) and running at
the wall clock's rate, as Gazebo or `ros2 bag play --clock` do."""
import sys
import time

import rclpy
from rclpy.qos import qos_profile_sensor_data
from rosgraph_msgs.msg import Clock

START = 500.0
seconds = float(sys.argv[1])
rclpy.init()
node = rclpy.create_node("sim_clock")
pub = node.create_publisher(Clock, "/clock", qos_profile_sensor_data)
began = time.time()
while time.time() < began + seconds:
    now = START + time.time() - began
    msg = Clock()
    msg.clock.sec = int(now)
    msg.clock.nanosec = int((now - int(now)) * 1e9)
    pub.publish(msg)
    time.sleep(0.01)
node.destroy_node()
rclpy.shutdown()
