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

# Makes the virtualenv PREFIX (for the CPython found as python3) and installs
# REQUIREMENTS into it when they changed since the last install. Arguments: a
# tag for the messages, PREFIX, REQUIREMENTS, what is installed (for the message).
venv_install() {
    local tag=$1 prefix=$2 requirements=$3 what=$4
    if setup_forced || [[ ! -x "$prefix/bin/python" ]]; then
        python3 -m venv "$prefix"
    fi
    local stamp="$prefix/.requirements"
    if setup_forced || ! cmp -s "$requirements" "$stamp"; then
        echo "$tag: installing $what"
        "$prefix/bin/pip" install -q -r "$requirements"
        cp "$requirements" "$stamp"
    fi
}
