#!/usr/bin/env bash
# Installs what running the task suite on Ray needs (scripts/eval_ray.py),
# idempotently: a virtualenv .eval/venv with the pinned `ray` package
# (scripts/eval-requirements.txt) for the CPython found as python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/install.sh
source scripts/install.sh
if setup_forced || ! python3 -m venv --help >/dev/null 2>&1; then
    apt_install eval-setup python3-venv
fi
prefix="$PWD/.eval/venv"
venv_install eval-setup "$prefix" scripts/eval-requirements.txt "Ray (about 70 MB)"
echo "eval-setup: ready; Ray's Python is $prefix/bin/python"
