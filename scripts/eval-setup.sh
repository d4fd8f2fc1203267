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
if setup_forced || [[ ! -x "$prefix/bin/python" ]]; then
    python3 -m venv "$prefix"
fi
stamp="$prefix/.requirements"
if setup_forced || ! cmp -s scripts/eval-requirements.txt "$stamp"; then
    echo "eval-setup: installing Ray (about 70 MB)"
    "$prefix/bin/pip" install -q -r scripts/eval-requirements.txt
    cp scripts/eval-requirements.txt "$stamp"
fi
echo "eval-setup: ready; Ray's Python is $prefix/bin/python"
