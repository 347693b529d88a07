#!/usr/bin/env bash
# Starts a redis-server you keep using, with the engine, its backends and the
# Python host loaded, in the foreground (Ctrl-C stops it).  Builds first if
# needed (scripts/setup.sh).
#
#   scripts/serve.sh [--port N | --unix PATH] [--dir DIR] [redis-server args...]
#
# Default: port 6380 on 127.0.0.1 (Debian's own redis-server service takes
# 6379), data in ./data of the repository.  Other arguments go to
# redis-server as they are (e.g. --maxmemory 1gb --appendonly yes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

port=6380 unix="" dir="$root/data"
while [ $# -gt 0 ]; do
    case "$1" in
        --port) port=$2; shift 2 ;;
        --unix) unix=$2; port=0; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        *) break ;;
    esac
done

[ -f "$root/build/redisai.so" ] && [ -f "$root/build/redisgears_py.so" ] || "$root/scripts/setup.sh" >&2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

listen=(--port "$port" --bind 127.0.0.1)
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
    --loadmodule "$root/build/redisai.so" \
    --loadmodule "$root/build/redisgears_py.so" \
    "$@"
