#!/usr/bin/env bash
# The test command: sets up from nothing (scripts/setup.sh), then runs the
# whole suite against real redis-servers.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest -p no:cacheprovider "${@:-tests}"
