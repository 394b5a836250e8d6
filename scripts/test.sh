#!/usr/bin/env bash
# README command 2: set everything up, then run the whole test suite (slow and docker tests too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The slowest tests are listed at the end: CI has a ~20-minute budget to watch.
exec .venv/bin/python -m pytest -p no:cacheprovider --durations=25 "$@"
