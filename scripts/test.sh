#!/usr/bin/env bash
# Installs what is missing (JDK, Maven, docker-registry, skopeo, chromium) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec mvn -B verify "$@"
