#!/usr/bin/env bash
# `npm run bench`: sets this machine up like the tests do (setup.sh: packages, Docker, npm build, the
# runtime images), then runs the benchmark suite (bench/, see BENCHMARKS.md). Arguments go to it:
# --smoke, --out FILE, --image TAG, --only warm,throughput,cold,async,footprint,bullmq,scale-down,hosts,cluster, --profile DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# 1,000 requests in flight: client, gateway and server sockets.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec node dist/bench/main.cjs "$@"
