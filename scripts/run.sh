#!/usr/bin/env bash
# Sets up this machine (see setup.sh) and runs Hearth: API + invoker on http://127.0.0.1:8080 with its
# own redis-server, unless the environment says otherwise (gateway/config.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec node dist/hearth.cjs
