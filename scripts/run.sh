#!/usr/bin/env bash
# Installs what is missing, builds Cistern, and runs it (embedded defaults unless --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mvn -B -q -DskipTests package
# shellcheck disable=SC2046 # the options file holds several flags
# The class-data archive and SQLite's native library that the build put beside the jar; the JVM
# starts without the archive if it is missing or does not fit this JVM and jar, and sqlite-jdbc
# copies its library out of the jar if it is not there.
exec java $(cat scripts/jvm-options) -XX:SharedArchiveFile=proxy-server/target/cistern.jsa \
  -Dorg.sqlite.lib.path="proxy-server/target/sqlite-native/org/sqlite/native/Linux/$(uname -m)" \
  -jar proxy-server/target/cistern.jar "$@"
