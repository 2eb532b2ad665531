#!/usr/bin/env bash
# Installs what is missing, builds Cistern, and runs it (embedded defaults unless --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mvn -B -q -DskipTests package
# shellcheck disable=SC2046 # the options file holds several flags
exec java $(cat scripts/jvm-options) -jar proxy-server/target/cistern.jar "$@"
