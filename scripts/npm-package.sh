#!/usr/bin/env bash
# The npm package (`npx deployguard evaluate` in a CI pipeline) and the Node lines it supports.
#
#   npm-package.sh pack DIR     builds dist/ (npm's prepack) and packs the package into DIR;
#                               prints the tarball's path
#   npm-package.sh nodes        prints the Node versions the package is checked on, one per line:
#                               the newest release of each supported line that this script pins,
#                               and the project's own pinned Node 24
#   npm-package.sh node V       prints the path of Node V's binary, fetched once from the npm
#                               registry (package node-<os>-<arch>, no install scripts run) into
#                               ~/.cache/deployguard/node/V
#
# package.json's engines must name exactly these lines: a user on any of them installs without an
# engine warning, and a line the package claims is one it is checked on.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${DEPLOYGUARD_CACHE:-$HOME/.cache/deployguard}/node"
die() { printf '[npm-package] ERROR: %s\n' "$*" >&2; exit 1; }

# Supported upstream in 2026-12: 22 (maintenance until 2027-04), 24 (the project's), 26.
OTHER_LINES=(22.23.3 26.10.0)

pinned_node() { "$REPO_ROOT/node_modules/.bin/node" -p 'process.versions.node'; }

cmd="${1:-}"
case "$cmd" in
  pack)
    dir="${2:?usage: npm-package.sh pack DIR}"
    mkdir -p "$dir"
    cd "$REPO_ROOT"
    # The project's Node first on PATH: prepack's tsc runs on it.
    PATH="$REPO_ROOT/node_modules/.bin:$PATH" npm pack --silent --pack-destination "$dir" >"$dir/.name"
    printf '%s/%s\n' "$dir" "$(tail -n 1 "$dir/.name")"
    rm -f "$dir/.name"
    ;;
  nodes)
    printf '%s\n' "${OTHER_LINES[0]}" "$(pinned_node)" "${OTHER_LINES[@]:1}"
    ;;
  node)
    v="${2:?usage: npm-package.sh node VERSION}"
    [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "not a Node version: $v"
    bin="$CACHE/$v/bin/node"
    if [[ ! -x "$bin" ]]; then
      platform="$("$REPO_ROOT/node_modules/.bin/node" -p 'process.platform + "-" + process.arch')"
      tmp="$(mktemp -d)"
      trap 'rm -rf "$tmp"' EXIT
      (cd "$tmp" && npm pack --silent "node-$platform@$v" >/dev/null) ||
        die "could not fetch node-$platform@$v from the npm registry"
      mkdir -p "$tmp/x"
      tar -xzf "$tmp"/node-*.tgz -C "$tmp/x"
      [[ -x "$tmp/x/package/bin/node" ]] || die "node-$platform@$v holds no bin/node"
      mkdir -p "$CACHE"
      rm -rf "$CACHE/$v"
      mv "$tmp/x/package" "$CACHE/$v"
    fi
    [[ "$("$bin" -p 'process.versions.node')" == "$v" ]] || die "$bin is not Node $v"
    printf '%s\n' "$bin"
    ;;
  *) die "usage: npm-package.sh pack DIR | nodes | node VERSION" ;;
esac
