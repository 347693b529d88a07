#!/usr/bin/env bash
# Installs everything redisai-ext needs on a fresh Debian 12 machine and
# builds it: Debian's redis-server, a venv (.venv) with pinned packages, the
# C modules and the redisAI extension.  Safe to run again: it skips what is done.
# A first run takes about 3 GB of disk (the venv is 2.5 GB: torch, TensorFlow)
# and a few minutes; it prints one line per step with its time.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# step NAME CMD...: runs CMD, then prints how long it took.
step() {
    local name=$1 t0=$SECONDS; shift
    printf 'setup: %-36s ' "$name"
    "$@"
    echo "done ($((SECONDS - t0)) s)"
}

# pip, with its output kept to the errors and the warnings about our own
# packages (this machine's index mirrors add warnings about every name).
pip_install() {
    local log; log=$(mktemp)
    if ! "$@" --disable-pip-version-check >"$log" 2>&1; then
        echo; cat "$log" >&2; rm -f "$log"; return 1
    fi
    grep -E '^(WARNING|ERROR)' "$log" | grep -v "is ignored: it is neither a file nor a directory" || true
    rm -f "$log"
}

apt_packages() {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server redis-tools)
command -v gcc >/dev/null || need_apt+=(build-essential)
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || need_apt+=(python3 python3-venv python3-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    step "Debian packages: ${need_apt[*]}" apt_packages "${need_apt[@]}"
fi
# Debian's own python3 needs its -dev package for the embedding flags.
"$PY" -c 'import sysconfig,sys; sys.exit(0 if sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' || {
    echo "setup: $PY has no shared libpython; the Python host needs one" >&2; exit 1; }
command -v "${PY}-config" >/dev/null || command -v python3-config >/dev/null || \
    step "Debian packages: python3-dev" apt_packages python3-dev

if [ ! -x .venv/bin/python ]; then
    step "venv .venv" "$PY" -m venv .venv
fi
# requirements*.txt: exact pins.  torch==2.13.0 is the CPU wheel that pip
# finds on this machine's local index; from PyPI the same pin is a CUDA build.
stamp=.venv/.requirements.sha
want=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    for reqs in requirements.txt requirements-*.txt; do
        [ -e "$reqs" ] && step "pip -r $reqs" pip_install .venv/bin/pip install -r "$reqs"
    done
    echo "$want" > "$stamp"
fi

# The PyPI `redisai` client 1.3.0 pins pytest<8 and redis<5, so it gets its
# own venv (tests/engine/test_redisai_client.py runs it).  --no-deps lets it
# sit on redis-py 8.1.0, which it works with (dependencies.md §11).
client_pins="redis==8.1.0 numpy==2.4.6 hiredis==3.5.0 Deprecated==1.3.1 wrapt==2.5.2 six==1.17.0"
client_stamp=.venv-redisai-client/.requirements.sha
client_want=$(echo "$client_pins redisai==1.3.0" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$client_stamp" 2>/dev/null)" != "$client_want" ]; then
    [ -x .venv-redisai-client/bin/python ] || "$PY" -m venv .venv-redisai-client
    # shellcheck disable=SC2086
    step "pip: the redisai client's venv" pip_install .venv-redisai-client/bin/pip install $client_pins
    step "pip: redisai==1.3.0 (--no-deps)" pip_install .venv-redisai-client/bin/pip install --no-deps redisai==1.3.0
    echo "$client_want" > "$client_stamp"
fi

for part in engine backends host pyapi all; do
    step "build: ${part/all/test tools}" make -s -j2 "$part" PYTHON="$PWD/.venv/bin/python"
done
