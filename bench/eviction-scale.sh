#!/usr/bin/env bash
# Eviction at scale: builds proxy-store, then times an eviction pass, metadata lookups and an
# access-time flush with 1,000 and 1,000,000 blob rows (or the row counts given as arguments).
# A benchmark, not a test: it is not part of `mvn verify` and takes a minute or two.
set -euo pipefail
cd "$(dirname "$0")/.."

out=bench/eviction-scale/target
mkdir -p "$out/classes"
mvn -B -q -pl proxy-store -am -DskipTests package dependency:build-classpath \
  -DincludeScope=runtime -Dmdep.outputFile=target/classpath.txt
classpath="proxy-store/target/classes:$(cat proxy-store/target/classpath.txt)"
javac -d "$out/classes" -cp "$classpath" --release 17 \
  $(find bench/eviction-scale/src -name '*.java')
exec java -Xmx1g -cp "$out/classes:$classpath" io.cistern.cache.EvictionScaleBench "$@"
