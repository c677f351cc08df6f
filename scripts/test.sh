#!/usr/bin/env bash
# Sets up this machine (see setup.sh) and runs every test suite against a real redis-server and a real
# Docker engine. Extra arguments go to vitest (a file name, -t 'test name').
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec npx vitest run "$@"
