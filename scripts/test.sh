#!/usr/bin/env bash
# Sets up this machine (see setup.sh) and runs every test suite against a real redis-server and a real
# Docker engine. Extra arguments go to vitest (a file name, -t 'test name').
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# One test holds 1,000 requests in flight, client and server sockets in one process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec npx vitest run "$@"
