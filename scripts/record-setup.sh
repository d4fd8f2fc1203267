#!/usr/bin/env bash
# Installs what the recording tests read MCAP files with, idempotently: a
# virtualenv .record/venv with the official Python `mcap` reader and its
# protobuf and ROS 2 decoders (for Foxglove's schemas and ROS 2 messages), pinned in
# scripts/record-requirements.txt, for the CPython found as python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/install.sh
source scripts/install.sh
if setup_forced || ! python3 -m venv --help >/dev/null 2>&1; then
    apt_install record-setup python3-venv
fi
prefix="$PWD/.record/venv"
venv_install record-setup "$prefix" scripts/record-requirements.txt "the MCAP reader"
echo "record-setup: ready; the reader's Python is $prefix/bin/python"
