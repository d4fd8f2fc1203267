#!/usr/bin/env bash
# Installs what building and testing codeact needs on a Debian machine, idempotently.
# Needs: a Rust toolchain >= 1.85 (rustup), which Debian's own cargo is too old for.
set -euo pipefail
# shellcheck source=scripts/install.sh
source "$(dirname "$0")/install.sh"

need_apt=()
if setup_forced; then
    # Every Debian package this script may install, so CI runs the install line.
    need_apt+=(build-essential python3 python3-dev python3-numpy)
fi
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)

# pyo3 embeds CPython: the interpreter found as python3 must ship libpython.
python_shared() {
    python3 -c 'import sysconfig, sys; sys.exit(0 if sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' 2>/dev/null
}
if command -v python3 >/dev/null 2>&1 && ! python_shared; then
    need_apt+=(python3-dev)
fi
if [ "$(python3 -c 'import sys; print(sys.prefix)' 2>/dev/null)" = "/usr" ]; then
    dpkg -s python3-dev >/dev/null 2>&1 || need_apt+=(python3-dev)
    python3 -c 'import numpy' 2>/dev/null || need_apt+=(python3-numpy)
fi
# shellcheck disable=SC2046 # unique words: package names have no spaces
apt_install setup $(printf '%s\n' "${need_apt[@]}" | sort -u)

# numpy for the Python that will be embedded (pyenv or a virtualenv; Debian's
# own Python got python3-numpy above, and its pip refuses to install).
if [ "$(python3 -c 'import sys; print(sys.prefix)')" != "/usr" ] &&
    { setup_forced || ! python3 -c 'import numpy' 2>/dev/null; }; then
    echo "setup: installing numpy for $(command -v python3)"
    python3 -m pip install -q --root-user-action=ignore numpy
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: no cargo found. Install Rust >= 1.85 with rustup (https://rustup.rs) and run again." >&2
    exit 1
fi
rust_minor=$(rustc --version | sed -E 's/rustc 1\.([0-9]+).*/\1/')
if [ "$rust_minor" -lt 85 ]; then
    echo "setup: rustc $(rustc --version) is too old; codeact needs Rust >= 1.85 (rustup update)." >&2
    exit 1
fi
if setup_forced || ! rustup component list --installed 2>/dev/null | grep -q clippy; then
    rustup component add clippy rustfmt >/dev/null
fi
echo "setup: ready ($(python3 --version), $(rustc --version | cut -d' ' -f1-2))"
