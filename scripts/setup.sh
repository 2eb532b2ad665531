#!/usr/bin/env bash
# Installs what Cistern needs on Debian/Ubuntu, only where it is missing.
#   scripts/setup.sh          JDK 17 and Maven (to build and run)
#   scripts/setup.sh --test   also CNCF Distribution (docker-registry), skopeo, chromium, and the real
#                             mirror clients containerd, docker.io (dockerd) and podman (for the tests)
#   scripts/setup.sh --bench  the test tools plus nginx, wrk, curl, ss and python3 (for bench/run.sh)
set -euo pipefail

packages=()
command -v javac >/dev/null 2>&1 || packages+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || packages+=(maven)
if [[ "${1:-}" == "--test" || "${1:-}" == "--bench" ]]; then
  command -v docker-registry >/dev/null 2>&1 || packages+=(docker-registry)
  command -v skopeo >/dev/null 2>&1 || packages+=(skopeo)
  command -v chromium >/dev/null 2>&1 || packages+=(chromium)
  # The real clients' tests start private daemons (as root; skipped otherwise), never the system's.
  command -v ctr >/dev/null 2>&1 || packages+=(containerd)
  [[ -x /usr/sbin/dockerd ]] || command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
  command -v podman >/dev/null 2>&1 || packages+=(podman)
fi
if [[ "${1:-}" == "--bench" ]]; then
  command -v nginx >/dev/null 2>&1 || packages+=(nginx-light)
  command -v wrk >/dev/null 2>&1 || packages+=(wrk)
  command -v curl >/dev/null 2>&1 || packages+=(curl)
  command -v ss >/dev/null 2>&1 || packages+=(iproute2)
  command -v python3 >/dev/null 2>&1 || packages+=(python3)
fi

if ((${#packages[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing: ${packages[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
