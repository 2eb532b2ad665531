#!/usr/bin/env bash
# Installs what is missing (JDK, Maven, docker-registry, skopeo, chromium, containerd, docker.io, podman,
# and the bench's nginx, wrk, curl, python3), runs the whole test suite, then the benchmark's smoke
# mode (seconds) so the bench cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --bench
mvn -B verify "$@"
python3 bench/bench.py --smoke --out "${TMPDIR:-/tmp}/cistern-bench-smoke.json"
