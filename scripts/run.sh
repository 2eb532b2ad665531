#!/usr/bin/env bash
# Installs what is missing, builds Cistern, and runs it (embedded defaults unless --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mvn -B -q -DskipTests package
# shellcheck disable=SC2046 # the options file holds several flags
# The class-data archive the build made beside the jar; the JVM starts without it if it is
# missing or does not fit this JVM and jar.
exec java $(cat scripts/jvm-options) -XX:SharedArchiveFile=proxy-server/target/cistern.jsa \
  -jar proxy-server/target/cistern.jar "$@"
