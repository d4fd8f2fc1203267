#!/usr/bin/env bash
# Shared by the setup scripts (sourced, not run): how they install things.
#
# CODEACT_SETUP_FORCE=1 runs every install command even when what it installs
# is already present (apt-get and pip are no-ops then). CI sets it, so an
# install line that is broken cannot pass merely because a machine already
# had its target.

# True when every install branch must run.
setup_forced() { [[ "${CODEACT_SETUP_FORCE:-0}" == 1 ]]; }

# Installs Debian packages, as root or through sudo, without questions.
# Arguments: a tag for the messages, then the package names.
apt_install() {
    local tag=$1
    shift
    (($#)) || return 0
    local sudo=()
    [[ $(id -u) -ne 0 ]] && sudo=(sudo)
    echo "$tag: installing $* (Debian packages)"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
