"""The codeact agent node for a TurtleBot 3 (or any TurtleBot-class base)
whose bringup already runs: /odom, /scan, /battery_state, /cmd_vel.

    ros2 launch launch/turtlebot3_agent.launch.py llm:=anthropic:claude-sonnet-4-5

The robot profile (launch/profiles/turtlebot3.yaml) holds the limits, the
geofence and which topics code may reach; copy and edit it for your room.
On a robot network (ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET), the node starts
only with DDS security enforced or insecure_network:=true (docs/ros.md,
"Who may run code").
"""
import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration

PROFILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiles", "turtlebot3.yaml")


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("codeact", default_value="codeact", description="the codeact binary"),
        DeclareLaunchArgument("profile", default_value=PROFILE, description="robot profile file"),
        DeclareLaunchArgument("llm", default_value="", description="provider:model for RunTask goals (empty: none)"),
        DeclareLaunchArgument("insecure_network", default_value="false",
                              description="true: start although anyone on the network could run code (docs/ros.md)"),
        DeclareLaunchArgument("timeout", default_value="60", description="default time limit of an action, seconds"),
        ExecuteProcess(
            cmd=[LaunchConfiguration("codeact"), "node", "--ros", "--robot", LaunchConfiguration("profile"),
                 "--timeout", LaunchConfiguration("timeout")],
            additional_env={"CODEACT_LLM": LaunchConfiguration("llm"),
                            "CODEACT_INSECURE_NETWORK": LaunchConfiguration("insecure_network")},
            name="codeact_node",
            output="screen",
        ),
    ])
