# Shared settings for the test control-plane scripts (sourced, not run).
# shellcheck shell=bash

CLUSTER_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$CLUSTER_SRC/../.." && pwd)"

# Where the running cluster keeps its state (PKI, kubeconfigs, logs, pids, data).
CLUSTER_DIR="${DEPLOYGUARD_CLUSTER_DIR:-$REPO_ROOT/.cluster}"

# Where built binaries are cached, outside the clone, keyed by version.
CACHE_ROOT="${DEPLOYGUARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/deployguard}/testbin"

# Optional directory of ready-made binaries (setup-envtest layout: etcd, kube-apiserver, kubectl;
# kube-controller-manager, kube-scheduler and kwok are used from there too when present).
USER_BIN_DIR="${DEPLOYGUARD_CLUSTER_BIN_DIR:-${KUBEBUILDER_ASSETS:-}}"

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# Version of a required module, read from one of our go.mod files.
mod_version() { # go.mod module-path
  awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { v = ($1 == m) ? $2 : $3 } END { print v }' "$1"
}

K8S_VERSION="$(mod_version "$CLUSTER_SRC/k8s/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(mod_version "$CLUSTER_SRC/etcd/go.mod" go.etcd.io/etcd/server/v3)"
KWOK_VERSION="$(mod_version "$CLUSTER_SRC/kwok/go.mod" sigs.k8s.io/kwok)"

GOOS_GOARCH="$(uname -s | tr '[:upper:]' '[:lower:]')-$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')"
K8S_CACHE="$CACHE_ROOT/k8s-$K8S_VERSION-$GOOS_GOARCH"
ETCD_CACHE="$CACHE_ROOT/etcd-$ETCD_VERSION-$GOOS_GOARCH"
KWOK_CACHE="$CACHE_ROOT/kwok-$KWOK_VERSION-$GOOS_GOARCH"

K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

# Path of a component binary: the user's directory first, then the cache.
bin_path() { # name
  local name="$1"
  if [[ -n "$USER_BIN_DIR" && -x "$USER_BIN_DIR/$name" ]]; then
    echo "$USER_BIN_DIR/$name"
    return
  fi
  case "$name" in
    etcd) echo "$ETCD_CACHE/etcd" ;;
    kwok) echo "$KWOK_CACHE/kwok" ;;
    *) echo "$K8S_CACHE/$name" ;;
  esac
}

COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

pid_of() { # name -> pid of the running component, if it is ours and alive
  local f="$CLUSTER_DIR/pids/$1.pid" pid exe
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  # Only a live process running that component's binary counts (pids are reused).
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  [[ "$(basename "${exe% (deleted)}")" == "$1" ]] || return 1
  echo "$pid"
}

stop_component() { # name: TERM, then KILL after 15 s; by recorded pid only
  local name="$1" pid i
  if ! pid="$(pid_of "$name")"; then
    rm -f "$CLUSTER_DIR/pids/$name.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    [[ -d "/proc/$pid" ]] || break
    # A zombie child of this shell is gone for our purposes.
    [[ "$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" == Z ]] && break
    sleep 0.1
  done
  if [[ -d "/proc/$pid" ]] && pid_of "$name" >/dev/null; then
    log "$name (pid $pid) ignored TERM for 15s; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  # An exited process stays a zombie until its parent (init, once up.sh's shell is gone) reaps
  # it; it holds no port or memory then. Give the reaper a moment, but do not wait for it.
  for ((i = 0; i < 10; i++)); do
    [[ -d "/proc/$pid" ]] || break
    sleep 0.1
  done
  rm -f "$CLUSTER_DIR/pids/$name.pid"
  log "stopped $name (pid $pid)"
}

