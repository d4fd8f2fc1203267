"""Nav2 driving a robot through codeact's safety governor, and the codeact
agent node.

    ros2 launch launch/nav2_agent.launch.py profile:=my_robot.yaml params_file:=nav2_params.yaml

Nav2's last velocity stage (Jazzy's collision monitor) publishes on
/cmd_vel_relay instead of /cmd_vel; the robot profile names that topic as
`nav2: {relay: /cmd_vel_relay}`, so codeact relays Nav2's commands to the
base within the profile's limits, geofence, watchdog and e-stop (see
docs/ros.md, "Nav2 as the navigator"). Without the relay line in the profile
nothing reaches the base. Needs nav2_bringup; the codeact binary is built
with `cargo build --release --features ros`.
"""
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription,
                            SetEnvironmentVariable)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare
from nav2_common.launch import RewrittenYaml


def generate_launch_description():
    codeact = LaunchConfiguration("codeact")
    # Nav2's output goes to codeact's relay, not to the base.
    params = RewrittenYaml(
        source_file=LaunchConfiguration("params_file"),
        param_rewrites={"cmd_vel_out_topic": "cmd_vel_relay"},
        convert_types=True,
    )
    return LaunchDescription([
        DeclareLaunchArgument("codeact", default_value="codeact", description="the codeact binary"),
        DeclareLaunchArgument("profile", description="robot profile with nav2: {relay: /cmd_vel_relay}"),
        DeclareLaunchArgument("params_file", description="Nav2's parameters"),
        DeclareLaunchArgument("llm", default_value="", description="provider:model for RunTask goals (empty: none)"),
        DeclareLaunchArgument("insecure_network", default_value="false",
                              description="true: start although anyone on the network could run code (docs/ros.md)"),
        SetEnvironmentVariable(
            "ROS_AUTOMATIC_DISCOVERY_RANGE",
            EnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", default_value="LOCALHOST"),
        ),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(
                PathJoinSubstitution([FindPackageShare("nav2_bringup"), "launch", "navigation_launch.py"])),
            launch_arguments={"params_file": params}.items(),
        ),
        ExecuteProcess(
            cmd=[codeact, "node", "--ros", "--robot", LaunchConfiguration("profile")],
            additional_env={"CODEACT_LLM": LaunchConfiguration("llm"),
                            "CODEACT_INSECURE_NETWORK": LaunchConfiguration("insecure_network")},
            name="codeact_node",
            output="screen",
        ),
    ])
