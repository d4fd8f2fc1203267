#!/usr/bin/env bash
# Generates and installs one ROS 2 interface package (its .msg, .srv and
# .action files, through rosidl_generate_interfaces in its CMakeLists.txt)
# with plain cmake, as a colcon build would: the C and C++ type supports and
# the Python package. The one generator of scripts/ros-setup.sh (the
# project's interfaces) and of the tests that make a package of their own.
# Usage: ros-interface-build.sh SOURCE_DIR BUILD_DIR INSTALL_PREFIX PYTHON LOG
# with a ROS 2 environment (AMENT_PREFIX_PATH, CMAKE_PREFIX_PATH) in place.
set -euo pipefail
src=$1 build=$2 prefix=$3 python=$4 log=$5
cmake -S "$src" -B "$build" -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DPython3_EXECUTABLE="$python" -DBUILD_TESTING=OFF >>"$log" 2>&1
cmake --build "$build" -j "$(nproc)" >>"$log" 2>&1
cmake --install "$build" >>"$log" 2>&1
