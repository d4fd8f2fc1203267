"""The simulator as a ROS 2 robot plus the codeact agent node driving it.

    ros2 launch launch/sim_agent.launch.py world:=warehouse llm:=openai:gpt-4o-mini

Both are the `codeact` binary (built with `cargo build --release --features ros`,
on PATH or given with codeact:=/path/to/codeact). DDS stays on this machine
unless ROS_AUTOMATIC_DISCOVERY_RANGE says otherwise (see docs/ros.md).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration


def generate_launch_description():
    codeact = LaunchConfiguration("codeact")
    return LaunchDescription([
        DeclareLaunchArgument("codeact", default_value="codeact", description="the codeact binary"),
        DeclareLaunchArgument("world", default_value="warehouse", description="built-in world or world file"),
        DeclareLaunchArgument("profile", default_value="sim", description="robot profile of the simulated robot"),
        DeclareLaunchArgument("llm", default_value="", description="provider:model for RunTask goals (empty: none)"),
        SetEnvironmentVariable(
            "ROS_AUTOMATIC_DISCOVERY_RANGE",
            EnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", default_value="LOCALHOST"),
        ),
        ExecuteProcess(
            cmd=[codeact, "sim", "--ros", "--world", LaunchConfiguration("world")],
            name="codeact_sim",
            output="screen",
        ),
        ExecuteProcess(
            cmd=[codeact, "node", "--ros", "--robot", LaunchConfiguration("profile")],
            additional_env={"CODEACT_LLM": LaunchConfiguration("llm")},
            name="codeact_node",
            output="screen",
        ),
    ])
