#!/usr/bin/env bash
# Installs what the MCP tests and benchmark use as their client, idempotently:
# a virtualenv .mcp/venv with the official MCP Python SDK, pinned
# (scripts/mcp-requirements.txt), for the CPython found as python3.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/install.sh
source scripts/install.sh
if setup_forced || ! python3 -m venv --help >/dev/null 2>&1; then
    apt_install mcp-setup python3-venv
fi
prefix="$PWD/.mcp/venv"
venv_install mcp-setup "$prefix" scripts/mcp-requirements.txt "the MCP Python SDK"
echo "mcp-setup: ready; the client's Python is $prefix/bin/python"
