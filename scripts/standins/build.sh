#!/usr/bin/env bash
# Builds local stand-ins for upstream images on a machine that cannot pull them:
#   scripts/standins/build.sh node|node-slim|postgres|redis|nginx ...
# prints the stand-in's image name for each argument, one per line. The Debian base comes from
# debootstrap once; an image is rebuilt only when its recipe (or the host's Node.js) changed.
# Users never need these: docker-compose.yml defaults to the upstream images.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DOCKER_BUILDKIT=0 # the legacy builder: no buildx needed, nothing fetched
base=tessera-standin/debian:bookworm
log() { echo "standins: $*" >&2; }

if ! docker image inspect "$base" >/dev/null 2>&1; then
  log "debootstrap bookworm -> $base"
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  rm -rf "$rootfs"
fi

# A digest of what an image is built from: its recipe files and, for Node, the host's version.
recipe() { (cd "$here" && cat "$@" && node --version && npm --version) | sha256sum | cut -c1-16; }

# An image whose label shows it was built from the same recipe is reused as it is.
current() { [ "$(docker image inspect -f '{{index .Config.Labels "tessera.standin"}}' "$1" 2>/dev/null)" = "$2" ]; }

build() { # build NAME DOCKERFILE CONTEXT DIGEST [docker build options]
  local name="$1" file="$2" context="$3" digest="$4"
  shift 4
  local output
  log "building $name"
  output="$(mktemp)"
  if ! docker build --build-arg BASE_IMAGE="$base" --label "tessera.standin=$digest" \
    -f "$here/$file" -t "$name" "$@" "$context" >"$output" 2>&1; then
    cat "$output" >&2
    log "building $name failed"
    exit 1
  fi
  rm -f "$output"
}

# The host's Node.js, npm, headers and CA bundle, staged as the node images' build context.
node_context() {
  local context node prefix
  context="$(mktemp -d)"
  node="$(node -p process.execPath)"
  prefix="$(dirname "$(dirname "$node")")"
  cp "$node" "$context/node"
  cp -a "$(npm root -g)/npm" "$context/npm"
  cp -a "$prefix/include/node" "$context/include"
  cp /etc/ssl/certs/ca-certificates.crt "$context/"
  echo "$context"
}

for image in "$@"; do
  case "$image" in
    node) name=tessera-standin/node:20-bookworm files=node.Dockerfile target=full ;;
    node-slim) name=tessera-standin/node:20-bookworm-slim files=node.Dockerfile target=slim ;;
    postgres) name=tessera-standin/postgres:15 files="postgres.Dockerfile postgres-entrypoint.sh" ;;
    redis) name=tessera-standin/redis:7 files="redis.Dockerfile redis-entrypoint.sh" ;;
    nginx) name=tessera-standin/nginx:1.27 files=nginx.Dockerfile ;;
    *) log "unknown image '$image' (node, node-slim, postgres, redis, nginx)" && exit 2 ;;
  esac
  # shellcheck disable=SC2086 # $files is a list
  digest="$(recipe $files)"
  if ! current "$name" "$digest"; then
    case "$image" in
      node | node-slim)
        context="$(node_context)"
        build "$name" node.Dockerfile "$context" "$digest" --target "$target"
        rm -rf "$context"
        ;;
      *) build "$name" "${files%% *}" "$here" "$digest" ;;
    esac
  fi
  echo "$name"
done
