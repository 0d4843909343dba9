#!/bin/sh
# Install the Debian 12 packages swarm needs. Idempotent and
# non-interactive; run as root or through sudo.
#
#   deploy/install-deps.sh          everything: build, demo and the whole test
#                                   suite (the README's test command, CI)
#   deploy/install-deps.sh --demo   only what building and the demo need, so
#                                   deploy/demo.sh stays fast on a fresh machine
#
# The tests alone need chromium (the dashboard's browser test),
# prometheus (promtool checks /metrics and the example alert rules) and
# faketime (agents on skewed clocks, e2e.clock); clang is for the
# libFuzzer targets (fuzz/run.sh).
set -eu

build="build-essential cmake pkg-config
       libzmq3-dev libczmq-dev libmsgpack-dev libhiredis-dev libjansson-dev libyaml-dev
       libunistring-dev libmicrohttpd-dev libsodium-dev zlib1g-dev git
       redis-server redis-tools
       iproute2 procps python3"
tests="clang libclang-rt-14-dev faketime chromium prometheus"

case "${1:-}" in
    --demo) pkgs=$build ;;
    "") pkgs="$build $tests" ;;
    *) echo "usage: install-deps.sh [--demo]" >&2; exit 2 ;;
esac

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
# The Debian packages start a system redis on :6379 (and prometheus on
# :9090 where services start); swarm's tests and demo run their own
# servers on free ports, so they are left as the admin set them.
