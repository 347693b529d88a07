#!/usr/bin/env bash
# Starts a redis-server you keep using, with the engine, its backends and the
# Python host loaded, in the foreground (Ctrl-C stops it).  Builds first if
# needed (scripts/setup.sh).
#
#   scripts/serve.sh [--port N | --unix PATH] [--bind ADDR] [--dir DIR]
#                    [--modules DIR] [redis-server args...]
#
# Default: port 6380 on 127.0.0.1 (Debian's own redis-server service takes
# 6379), data in ./data of the repository, the modules of build/ (--modules:
# an installed tree, $PREFIX/lib/redisai-ext).  Other arguments go to
# redis-server as they are (e.g. --maxmemory 1gb --appendonly yes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

port=6380 unix="" bind=127.0.0.1 dir="$root/data" modules="$root/build"
while [ $# -gt 0 ]; do
    case "$1" in
        --port) port=$2; shift 2 ;;
        --unix) unix=$2; port=0; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --bind) bind=$2; shift 2 ;;
        --modules) modules=$2; shift 2 ;;
        *) break ;;
    esac
done

if [ ! -f "$modules/redisai.so" ] || [ ! -f "$modules/redisgears_py.so" ]; then
    [ "$modules" = "$root/build" ] || { echo "serve: no modules in $modules" >&2; exit 1; }
    "$root/scripts/setup.sh" >&2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

listen=(--port "$port" --bind "$bind")
if [ -n "$unix" ]; then
    case "$unix" in /*) ;; *) unix="$PWD/$unix" ;; esac
    listen+=(--unixsocket "$unix" --unixsocketperm 700)
    echo "serve: connect with: redis-cli -s $unix" >&2
else
    echo "serve: connect with: redis-cli -p $port" >&2
fi
echo "serve: data in $dir; Ctrl-C (or SIGTERM) stops the server" >&2

# Absolute module paths: redis-server changes into --dir before loading them.
exec redis-server "${listen[@]}" --dir "$dir" \
    --loadmodule "$modules/redisai.so" \
    --loadmodule "$modules/redisgears_py.so" \
    "$@"
