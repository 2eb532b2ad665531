#!/usr/bin/env bash
# Rebuilding a lost metadata database: builds proxy-store, stores files in a cache directory,
# deletes its database, and times the start that hashes and adopts every file. Arguments: layers,
# MiB per layer, small files (default 32 64 10000: 2 GiB). A benchmark, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."

out=bench/rebuild/target
mkdir -p "$out/classes"
mvn -B -q -pl proxy-store -am -DskipTests package dependency:build-classpath \
  -DincludeScope=runtime -Dmdep.outputFile=target/classpath.txt
classpath="proxy-store/target/classes:$(cat proxy-store/target/classpath.txt)"
javac -d "$out/classes" -cp "$classpath" --release 17 $(find bench/rebuild/src -name '*.java')
exec java -Xmx512m -cp "$out/classes:$classpath" io.cistern.cache.RebuildBench "$@"
