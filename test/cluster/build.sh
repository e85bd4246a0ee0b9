#!/usr/bin/env bash
# Builds the test control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kwok) from the pinned upstream Go modules in test/cluster/{etcd,k8s,kwok}, into a cache
# outside the clone keyed by version. Does nothing for binaries already cached or supplied through
# DEPLOYGUARD_CLUSTER_BIN_DIR / KUBEBUILDER_ASSETS. Safe to run concurrently (flock).
#
#   test/cluster/build.sh          build what is missing
#   test/cluster/build.sh --print  print where each binary is (or would be)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ "${1:-}" == "--print" ]]; then
  for b in etcd "${K8S_BINS[@]}" kwok; do echo "$b $(bin_path "$b")"; done
  exit 0
fi

# CI shells may not have the Go installation's bin directory on PATH.
command -v go >/dev/null || { [[ -x /usr/local/go/bin/go ]] && PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || die "the go command is needed to build the control plane (or set DEPLOYGUARD_CLUSTER_BIN_DIR)"

# Build flags as the upstream release builds use them: static, trimmed, stripped.
GO_BUILD=(go build -trimpath -buildvcs=false -tags selinux,notest,grpcnotrace)
export CGO_ENABLED=0

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.build.lock"
flock 9

# Builds into a temporary directory and renames it into place, so a cache directory either
# holds a complete set or does not exist.
install_dir() { # final-dir tmp-dir
  chmod 755 "$2"
  rm -rf "$1"
  mv "$2" "$1"
}

missing() { # names... -> true when any of them has no binary
  local b
  for b in "$@"; do [[ -x "$(bin_path "$b")" ]] || return 0; done
  return 1
}

build_k8s() {
  missing "${K8S_BINS[@]}" || return 0
  log "building Kubernetes $K8S_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)"
  local v="$K8S_VERSION" minor ld p tmp
  minor="${v#v1.}"; minor="${minor%%.*}"
  ld="-s -w"
  # Stamp the version the way hack/lib/version.sh does, so `kubectl version` and /version report it.
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  tmp="$(mktemp -d "$CACHE_ROOT/.k8s.XXXXXX")"
  (cd "$CLUSTER_SRC/k8s" && "${GO_BUILD[@]}" -ldflags "$ld" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  install_dir "$K8S_CACHE" "$tmp"
}

build_etcd() {
  missing etcd || return 0
  log "building etcd $ETCD_VERSION"
  local tmp
  tmp="$(mktemp -d "$CACHE_ROOT/.etcd.XXXXXX")"
  (cd "$CLUSTER_SRC/etcd" && "${GO_BUILD[@]}" -ldflags "-s -w" -o "$tmp/etcd" .)
  install_dir "$ETCD_CACHE" "$tmp"
}

build_kwok() {
  local dir tmp f
  if missing kwok; then
    log "building kwok $KWOK_VERSION"
    tmp="$(mktemp -d "$CACHE_ROOT/.kwok.XXXXXX")"
    (cd "$CLUSTER_SRC/kwok" && "${GO_BUILD[@]}" -ldflags "-s -w" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok)
  elif [[ ! -f "$KWOK_CACHE/stages.yaml" ]]; then
    tmp="$(mktemp -d "$CACHE_ROOT/.kwok.XXXXXX")"
    [[ -x "$KWOK_CACHE/kwok" ]] && cp "$KWOK_CACHE/kwok" "$tmp/"
  else
    return 0
  fi
  # The Stage objects that make fake nodes Ready (and keep their leases renewed) and fake pods
  # Running, Succeeded and deleted: the same set kwokctl loads by default, taken verbatim from
  # the kwok module's kustomize/stage directory.
  dir="$(cd "$CLUSTER_SRC/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  [[ -d "$dir/kustomize/stage" ]] || die "kwok module source not found (go list gave '$dir')"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    echo "# from sigs.k8s.io/kwok@$KWOK_VERSION kustomize/stage/$f"
    cat "$dir/kustomize/stage/$f"
  done >"$tmp/stages.yaml"
  install_dir "$KWOK_CACHE" "$tmp"
}

start=$SECONDS
build_etcd
build_k8s
build_kwok
if ((SECONDS - start > 1)); then log "build finished in $((SECONDS - start))s"; fi
