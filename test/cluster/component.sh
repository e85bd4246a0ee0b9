#!/usr/bin/env bash
# Starts, stops or checks one component of the running test control plane. up.sh uses it for
# every component; tests use it to restart a single one (for example the API server):
#
#   test/cluster/component.sh start|stop|restart|status|wait NAME
#
# NAME is one of: etcd kube-apiserver kube-controller-manager kube-scheduler kwok.
# Each process runs in its own session, logs to .cluster/logs/NAME.log and has its pid in
# .cluster/pids/NAME.pid; stop signals exactly that pid (TERM, then KILL after 15 s).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"



[[ -f "$CLUSTER_DIR/cluster.env" ]] || die "no cluster state in $CLUSTER_DIR (run make cluster-up)"
# shellcheck source=/dev/null
source "$CLUSTER_DIR/cluster.env"

P="$CLUSTER_DIR/pki"
K="$CLUSTER_DIR/kubeconfig"

component_args() { # name -> prints one argument per line
  case "$1" in
    etcd)
      printf '%s\n' \
        --name=node0 \
        --data-dir="$CLUSTER_DIR/data/etcd" \
        --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster="node0=http://127.0.0.1:$ETCD_PEER_PORT" \
        --unsafe-no-fsync \
        --auto-compaction-retention=1 \
        --quota-backend-bytes=2147483648 \
        --log-level=warn
      ;;
    kube-apiserver)
      printf '%s\n' \
        --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
        --bind-address=127.0.0.1 \
        --advertise-address=127.0.0.1 \
        --secure-port="$API_PORT" \
        --tls-cert-file="$P/apiserver.crt" \
        --tls-private-key-file="$P/apiserver.key" \
        --client-ca-file="$P/ca.crt" \
        --authorization-mode=RBAC \
        --allow-privileged=true \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$P/sa.pub" \
        --service-account-signing-key-file="$P/sa.key" \
        --service-cluster-ip-range=10.96.0.0/16 \
        --endpoint-reconciler-type=none \
        --shutdown-watch-termination-grace-period=3s \
        --requestheader-client-ca-file="$P/front-proxy-ca.crt" \
        --requestheader-allowed-names=front-proxy-client \
        --requestheader-username-headers=X-Remote-User \
        --requestheader-group-headers=X-Remote-Group \
        --requestheader-extra-headers-prefix=X-Remote-Extra- \
        --proxy-client-cert-file="$P/front-proxy-client.crt" \
        --proxy-client-key-file="$P/front-proxy-client.key" \
        --profiling=false
      ;;
    kube-controller-manager)
      printf '%s\n' \
        --kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
        --authorization-kubeconfig="$CLUSTER_DIR/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 \
        --secure-port="$KCM_PORT" \
        --leader-elect=false \
        --use-service-account-credentials=true \
        --root-ca-file="$P/ca.crt" \
        --service-account-private-key-file="$P/sa.key" \
        --cluster-signing-cert-file="$P/ca.crt" \
        --cluster-signing-key-file="$P/ca.key" \
        --kube-api-qps=100 \
        --kube-api-burst=200 \
        --profiling=false
      ;;
    kube-scheduler)
      printf '%s\n' \
        --kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
        --authentication-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
        --authorization-kubeconfig="$CLUSTER_DIR/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 \
        --secure-port="$SCHED_PORT" \
        --leader-elect=false \
        --kube-api-qps=100 \
        --kube-api-burst=200 \
        --profiling=false
      ;;
    kwok)
      # Flags as kwokctl passes them to its kwok controller, all on loopback.
      printf '%s\n' \
        --kubeconfig="$CLUSTER_DIR/kwok.kubeconfig" \
        --config="$KWOK_STAGES" \
        --manage-all-nodes=false \
        --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
        --node-ip=127.0.0.1 \
        --node-port="$KWOK_PORT" \
        --server-address="127.0.0.1:$KWOK_PORT" \
        --node-lease-duration-seconds=40
      ;;
    *) die "unknown component '$1' (one of: ${COMPONENTS[*]})" ;;
  esac
}

bin_var() { # name -> binary path recorded at cluster-up
  case "$1" in
    etcd) echo "$ETCD_BIN" ;;
    kube-apiserver) echo "$KUBE_APISERVER_BIN" ;;
    kube-controller-manager) echo "$KUBE_CONTROLLER_MANAGER_BIN" ;;
    kube-scheduler) echo "$KUBE_SCHEDULER_BIN" ;;
    kwok) echo "$KWOK_BIN" ;;
  esac
}

kubectl_admin() { "$KUBECTL_BIN" --kubeconfig "$K" "$@"; }

# Health check of a component; true when it answers.
healthy() { # name
  case "$1" in
    etcd) etcd_health 2>/dev/null ;;
    kube-apiserver) [[ "$(kubectl_admin get --raw /readyz 2>/dev/null)" == ok ]] ;;
    kube-controller-manager) [[ "$(kubectl_admin get --raw "/healthz" --server "https://127.0.0.1:$KCM_PORT" --insecure-skip-tls-verify 2>/dev/null)" == ok ]] ;;
    kube-scheduler) [[ "$(kubectl_admin get --raw "/healthz" --server "https://127.0.0.1:$SCHED_PORT" --insecure-skip-tls-verify 2>/dev/null)" == ok ]] ;;
    kwok) [[ "$(kubectl_admin get --raw "/healthz" --server "http://127.0.0.1:$KWOK_PORT" 2>/dev/null)" == ok ]] ;;
  esac
}

# etcd's own /health, read over bash's /dev/tcp (no curl needed).
etcd_health() ( # subshell: a failed /dev/tcp redirection must not end the script
  exec 4<>"/dev/tcp/127.0.0.1/$ETCD_PORT" || exit 1
  printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&4
  reply="$(timeout 5 cat <&4)" || true
  [[ "$reply" == *'"health":"true"'* ]]
)

wait_healthy() { # name [timeout-seconds]
  local name="$1" deadline=$((SECONDS + ${2:-120}))
  until healthy "$name"; do
    pid_of "$name" >/dev/null || die "$name exited; last lines of $CLUSTER_DIR/logs/$name.log:
$(tail -n 20 "$CLUSTER_DIR/logs/$name.log" 2>/dev/null)"
    ((SECONDS < deadline)) || die "$name not healthy after ${2:-120}s; see $CLUSTER_DIR/logs/$name.log"
    sleep 0.5
  done
}

start() { # name
  local name="$1" bin pid
  if pid="$(pid_of "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  bin="$(bin_var "$name")"
  [[ -x "$bin" ]] || die "binary for $name not found at '$bin'"
  mkdir -p "$CLUSTER_DIR/logs" "$CLUSTER_DIR/pids"
  local -a args
  mapfile -t args < <(component_args "$name")
  printf '%q ' "$bin" "${args[@]}" >"$CLUSTER_DIR/logs/$name.cmd"
  # setsid: own session, so the process survives the shell that started it and a Ctrl-C in it.
  setsid "$bin" "${args[@]}" </dev/null >>"$CLUSTER_DIR/logs/$name.log" 2>&1 &
  echo $! >"$CLUSTER_DIR/pids/$name.pid"
  log "started $name (pid $!)"
}

stop() { stop_component "$1"; }

status() { # name
  local pid
  if pid="$(pid_of "$1")"; then
    if healthy "$1"; then
      echo "$1 running pid=$pid healthy"
    else
      echo "$1 running pid=$pid NOT healthy"
    fi
  else
    echo "$1 stopped"
    return 1
  fi
}

cmd="${1:-}"
name="${2:-}"
[[ -n "$cmd" && -n "$name" ]] || die "usage: $0 start|stop|restart|status|wait NAME"
[[ " ${COMPONENTS[*]} " == *" $name "* ]] || die "unknown component '$name' (one of: ${COMPONENTS[*]})"
case "$cmd" in
  start) start "$name" ;;
  stop) stop "$name" ;;
  restart) stop "$name"; start "$name"; wait_healthy "$name" ;;
  status) status "$name" ;;
  wait) wait_healthy "$name" "${3:-120}" ;;
  *) die "unknown command '$cmd'" ;;
esac
