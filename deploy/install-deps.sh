#!/bin/sh
# Install every build, test and demo dependency of swarm on Debian 12.
# Idempotent and non-interactive; run as root or through sudo. clang is for
# the libFuzzer targets (fuzz/run.sh).
set -eu

pkgs="build-essential cmake pkg-config
      libzmq3-dev libczmq-dev libmsgpack-dev libhiredis-dev libjansson-dev libyaml-dev
      libsodium-dev git libunistring-dev
      redis-server redis-tools
      iproute2 procps python3 faketime
      clang libclang-rt-14-dev"

SUDO=
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root (no sudo found)" >&2; exit 1; }
    SUDO=sudo
fi

missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
# The Debian package starts a system redis on :6379; swarm's tests and demo
# run their own servers on free ports, so it is left as the admin set it.
