#!/usr/bin/env bash
# Installs everything redisai-ext needs on a fresh Debian 12 machine and
# builds it: Debian's redis-server, a venv (.venv) with pinned packages, the
# C modules and the redisAI extension.  Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server redis-tools)
command -v gcc >/dev/null || need_apt+=(build-essential)
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || need_apt+=(python3 python3-venv python3-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
# Debian's own python3 needs its -dev package for the embedding flags.
"$PY" -c 'import sysconfig,sys; sys.exit(0 if sysconfig.get_config_var("Py_ENABLE_SHARED") else 1)' || {
    echo "setup: $PY has no shared libpython; the Python host needs one" >&2; exit 1; }
command -v "${PY}-config" >/dev/null || command -v python3-config >/dev/null || {
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-dev; }

if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
    for extra in requirements-*.txt; do
        [ -e "$extra" ] && .venv/bin/pip install -q --disable-pip-version-check -r "$extra"
    done
    echo "$want" > "$stamp"
fi

# The PyPI `redisai` client 1.3.0 pins pytest<8 and redis<5, so it gets its
# own venv (tests/engine/test_redisai_client.py runs it).  --no-deps lets it
# sit on redis-py 8.1.0, which it works with (dependencies.md §11).
client_pins="redis==8.1.0 numpy==2.4.6 hiredis==3.5.0 Deprecated==1.3.1 wrapt==2.5.2 six==1.17.0 redisai==1.3.0"
client_stamp=.venv-redisai-client/.requirements.sha
client_want=$(echo "$client_pins" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$client_stamp" 2>/dev/null)" != "$client_want" ]; then
    [ -x .venv-redisai-client/bin/python ] || "$PY" -m venv .venv-redisai-client
    .venv-redisai-client/bin/pip install -q --disable-pip-version-check \
        redis==8.1.0 numpy==2.4.6 hiredis==3.5.0 Deprecated==1.3.1 wrapt==2.5.2 six==1.17.0
    .venv-redisai-client/bin/pip install -q --disable-pip-version-check --no-deps redisai==1.3.0
    echo "$client_want" > "$client_stamp"
fi

make -s -j2 all PYTHON="$PWD/.venv/bin/python"
