#!/usr/bin/env bash
# `make image`: stages the root filesystem (stage-rootfs.sh) and builds the image FROM scratch
# with podman (or CONTAINER_TOOL=docker), never pulling anything. Prints the size and the time.
#
#   scripts/image/build.sh            builds deployguard:<package.json version>
#   IMAGE=name:tag CONTAINER_TOOL=docker scripts/image/build.sh
#
# Expects `npm ci` and `npm run build` done (the Makefile's image target depends on build).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"
log() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] ERROR: %s\n' "$*" >&2; exit 1; }

start=$SECONDS
VERSION="$(node_modules/.bin/node -p 'require("./package.json").version')"
IMAGE="${IMAGE:-deployguard:$VERSION}"
TOOL="${CONTAINER_TOOL:-podman}"
CONTEXT="$REPO_ROOT/dist-image/context"

if ! command -v "$TOOL" >/dev/null; then
  [[ "$TOOL" == podman ]] || die "$TOOL is not installed"
  command -v apt-get >/dev/null || die "podman is not installed (and there is no apt-get to install it)"
  SUDO=()
  [[ "$(id -u)" == 0 ]] || SUDO=(sudo)
  log "installing podman and runc (apt-get)"
  "${SUDO[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq podman runc >&2
fi

scripts/image/stage-rootfs.sh "$CONTEXT"

REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ "$REVISION" != unknown ]] && [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then
  REVISION="$REVISION-dirty"
fi
SOURCE="${IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || echo unknown)}"
build=("$TOOL" build --file Containerfile --tag "$IMAGE"
  --build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" --build-arg "SOURCE=$SOURCE")
if [[ "$TOOL" == podman ]]; then
  # Nothing to pull (FROM scratch); the commit's time as the image's and every file's timestamp,
  # so the same commit builds the same image ID. No layer cache: podman 4.3 reuses a cached LABEL
  # step whose build-arg values changed, which left a new build with the previous revision label
  # (the two COPY steps take about 5 s without it).
  build+=(--pull=never --layers=false --timestamp "$(git log -1 --format=%ct 2>/dev/null || echo 0)")
fi
log "${build[*]} dist-image/context"
"${build[@]}" "$CONTEXT" >&2

bytes="$("$TOOL" image inspect --format '{{.Size}}' "$IMAGE")"
log "built $IMAGE: $((bytes / 1048576)) MiB ($bytes bytes) in $((SECONDS - start)) s"
