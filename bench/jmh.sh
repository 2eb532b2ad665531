#!/usr/bin/env bash
# JMH benchmarks of the hot in-process paths: parsing (names, references, Accept), routing, and
# the cache lookups behind a request that misses memory, and what checking a cached blob costs
# (BlobHitBenchmark; its figures in the README are -bm sample medians). Extra arguments go to JMH, e.g.
#   bench/jmh.sh RoutingBenchmark -f 1 -i 3
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mvn -B -q -pl bench/jmh -am -DskipTests package
exec java -jar bench/jmh/target/benchmarks.jar "$@"
