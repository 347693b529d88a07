#!/usr/bin/env bash
# Sanitizer run: `scripts/sanitize.sh [address|undefined] [pytest args]`.
# Builds the instrumented variant (make SANITIZE=..., into build-<kind>/)
# and runs the engine, backend and redisAI API suites against it
# (docs/operations.md, "Sanitizer builds").  redis-server is not
# instrumented: the tests preload the sanitizer runtime into each server
# (tests/support/server.py), which writes its reports into its test directory;
# a report fails the test that stopped that server.  The test executables
# (build-<kind>/tests/*) are linked with the runtime and exit with 86 on a
# report (LeakSanitizer: 23).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-address}
case "$kind" in
    address) lib=libasan.so ;;
    undefined) lib=libubsan.so ;;
    *) echo "usage: $0 [address|undefined] [pytest args]" >&2; exit 2 ;;
esac
[ $# -gt 0 ] && shift
PY=$PWD/.venv/bin/python
[ -x "$PY" ] || ./scripts/setup.sh
echo "sanitize: building build-$kind"
make -s -j"$(nproc)" SANITIZE="$kind" PYTHON="$PY"
runtime=$(gcc -print-file-name="$lib")
[ -f "$runtime" ] || { echo "sanitize: gcc has no $lib" >&2; exit 2; }

export REDISAI_BUILD=$PWD/build-$kind REDISAI_SANITIZER_PRELOAD=$runtime
supp=$PWD/tests/sanitizer/lsan.supp
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:exitcode=86:abort_on_error=0"
export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0:use_tls=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=86"
echo "sanitize: tests against build-$kind ($runtime preloaded into redis-server)"
# The default suites unless a test path is given (options alone keep them).
paths=(tests/engine tests/backends tests/pyapi)
for a in "$@"; do [[ $a != -* && -e ${a%%::*} ]] && paths=(); done
set -- "${paths[@]}" "$@"
exec "$PY" -m pytest -p no:cacheprovider "$@"
