#!/usr/bin/env bash
# Benchmarks Cistern against CNCF Distribution in proxy mode and nginx on this machine.
#   bench/run.sh           full run (minutes): several runs, medians, table + bench/results/latest.json
#   bench/run.sh --smoke   seconds: tiny sizes, one run (what CI runs so the bench cannot rot)
#   bench/run.sh --soak [MINUTES]   a mixed load on one Cistern for MINUTES (30), sampling its memory
#                                   to see whether RSS levels off; table + bench/results/soak-latest.json
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --bench
[[ -f proxy-server/target/cistern.jar && -f proxy-server/target/cistern.jsa ]] || mvn -B -q -DskipTests package
exec python3 bench/bench.py "$@"
