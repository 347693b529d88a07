#!/usr/bin/env bash
# The main job: set up from nothing, then run the end-to-end demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python scripts/demo.py
