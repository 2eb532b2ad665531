#!/usr/bin/env bash
# Installs what is missing, builds Cistern, and runs it (embedded defaults unless --config FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mvn -B -q -DskipTests package
exec java -jar proxy-server/target/cistern.jar "$@"
