#!/usr/bin/env bash
# Builds the test tools (helm, promtool) from the pinned upstream Go modules in
# test/tools/{helm,promtool}, into the same cache outside the clone as the control plane, keyed
# by version. Does nothing for tools already cached. Safe to run concurrently (flock).
#
#   test/tools/build.sh                 build what is missing (all tools)
#   test/tools/build.sh helm            build only helm (or: promtool)
#   test/tools/build.sh --print [tool]  print where each binary is (or would be)
set -euo pipefail
# The cache location, log/die and mod_version are shared with the control-plane scripts.
# shellcheck source=../cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"
TOOLS_SRC="$REPO_ROOT/test/tools"
log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] ERROR: %s\n' "$*" >&2; exit 1; }

TOOLS=(helm promtool)
HELM_VERSION="$(mod_version "$TOOLS_SRC/helm/go.mod" helm.sh/helm/v4)"
PROMETHEUS_VERSION="$(mod_version "$TOOLS_SRC/promtool/go.mod" github.com/prometheus/prometheus)"
# Prometheus tags its Go module v0.3XX.Y for release 3.XX.Y (v0.316.0 is Prometheus 3.16.0); the
# cache is keyed by the module version, the binary reports the release.
PROMTOOL_VERSION="$PROMETHEUS_VERSION"
prometheus_release() { # v0.3XX.Y -> 3.XX.Y
  local minor="${1#v0.}" patch
  patch="${minor#*.}"
  minor="${minor%%.*}"
  echo "3.$((minor - 300)).$patch"
}

tool_version() { # tool
  case "$1" in
    helm) echo "$HELM_VERSION" ;;
    promtool) echo "$PROMTOOL_VERSION" ;;
    *) die "unknown tool '$1' (known: ${TOOLS[*]})" ;;
  esac
}
tool_dir() { echo "$CACHE_ROOT/$1-$(tool_version "$1")-$GOOS_GOARCH"; }
tool_path() { echo "$(tool_dir "$1")/$1"; }

print=false
if [[ "${1:-}" == "--print" ]]; then
  print=true
  shift
fi
wanted=("$@")
((${#wanted[@]})) || wanted=("${TOOLS[@]}")
for t in "${wanted[@]}"; do tool_version "$t" >/dev/null; done

if $print; then
  for t in "${wanted[@]}"; do echo "$t $(tool_path "$t")"; done
  exit 0
fi

# CI shells may not have the Go installation's bin directory on PATH.
command -v go >/dev/null || { [[ -x /usr/local/go/bin/go ]] && PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || die "the go command is needed to build the test tools"

# Static, trimmed, stripped, as the upstream release builds are.
export CGO_ENABLED=0
GO_BUILD=(go build -trimpath -buildvcs=false)

mkdir -p "$CACHE_ROOT"
# The control plane's lock: one Go build at a time on a small machine, and the cache directory
# is shared.
exec 9>"$CACHE_ROOT/.build.lock"
flock 9

build_helm() {
  local v="$HELM_VERSION" tmp ld
  # The version stamp Helm's Makefile sets, so `helm version` reports the pinned release.
  ld="-s -w -X helm.sh/helm/v4/internal/version.version=$v -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
  tmp="$(mktemp -d "$CACHE_ROOT/.helm.XXXXXX")"
  (cd "$TOOLS_SRC/helm" && "${GO_BUILD[@]}" -ldflags "$ld" -o "$tmp/helm" helm.sh/helm/v4/cmd/helm)
  install_dir "$(tool_dir helm)" "$tmp"
}

build_promtool() {
  local v="$PROMTOOL_VERSION" tmp ld p=github.com/prometheus/common/version
  # The stamp promu sets (.promu.yml), with the release version the module version stands for.
  ld="-s -w -X $p.Version=$(prometheus_release "$v") -X $p.Revision=$v -X $p.Branch=release"
  ld+=" -X $p.BuildUser=deployguard -X $p.BuildDate=19700101-00:00:00"
  tmp="$(mktemp -d "$CACHE_ROOT/.promtool.XXXXXX")"
  # netgo as upstream builds it; builtinassets only matters for the server's web UI.
  (cd "$TOOLS_SRC/promtool" && "${GO_BUILD[@]}" -tags netgo -ldflags "$ld" -o "$tmp/promtool" \
    github.com/prometheus/prometheus/cmd/promtool)
  install_dir "$(tool_dir promtool)" "$tmp"
}

# Builds into a temporary directory and renames it into place, so a cache directory either
# holds a complete binary or does not exist.
install_dir() { # final-dir tmp-dir
  chmod 755 "$2"
  rm -rf "$1"
  mv "$2" "$1"
}

for t in "${wanted[@]}"; do
  [[ -x "$(tool_path "$t")" ]] && continue
  log "building $t $(tool_version "$t")"
  start=$SECONDS
  "build_$t"
  log "$t built in $((SECONDS - start))s: $(tool_path "$t")"
done
