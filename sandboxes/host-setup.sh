#!/bin/sh
# Prepare this host for sandboxed test runs (idempotent, non-interactive, root).
#   HARNESS_SANDBOX_DIR=$(pwd)/.cache/sandbox sandboxes/host-setup.sh
# 1. installs docker.io, bubblewrap, mmdebstrap and python3-seccomp (bwrap's seccomp
#    filter) if missing (apt-get update once);
# 2. starts dockerd (no bridge, no iptables) in the background if `docker info`
#    fails, logging to $HARNESS_DOCKERD_LOG, and waits until it answers;
# 3. builds the offline sandbox image (reused when up to date).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
: "${HARNESS_SANDBOX_DIR:?set HARNESS_SANDBOX_DIR (e.g. \$(pwd)/.cache/sandbox)}"
log=${HARNESS_DOCKERD_LOG:-/var/log/harness-dockerd.log}
wait_s=${HARNESS_DOCKERD_WAIT:-60}
harness=${HARNESS_BIN:-$repo/.venv/bin/harness}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'host-setup: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts dockerd)"
export DEBIAN_FRONTEND=noninteractive

missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
/usr/bin/python3 -c 'import seccomp' >/dev/null 2>&1 || missing="$missing python3-seccomp"
if [ -n "$missing" ]; then
    say "installing$missing"
    lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' 2>/dev/null | head -n 1)
    if [ -z "$lists" ] || ! apt-get install -y -q $missing </dev/null; then
        apt-get update -q </dev/null
        # shellcheck disable=SC2086
        apt-get install -y -q $missing </dev/null
    fi
fi

if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: $log)"
    mkdir -p "$(dirname "$log")"
    nohup dockerd --bridge=none --iptables=false --ip6tables=false \
        </dev/null >>"$log" 2>&1 &
    waited=0
    until docker info >/dev/null 2>&1; do
        waited=$((waited + 1))
        if [ "$waited" -ge "$wait_s" ]; then
            tail -n 20 "$log" >&2 || true
            die "dockerd did not answer within ${wait_s} s (see $log)"
        fi
        sleep 1
    done
fi
say "docker engine answers"

mkdir -p "$HARNESS_SANDBOX_DIR"
HARNESS_SANDBOX_DIR=$HARNESS_SANDBOX_DIR "$harness" sandbox build --offline </dev/null
