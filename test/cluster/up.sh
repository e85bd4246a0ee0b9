#!/usr/bin/env bash
# Brings up the test control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok with fake nodes. Builds the binaries first if they are not cached.
# Idempotent: a healthy cluster is left as it is; leftovers of a broken one are cleaned first.
#
# Writes into .cluster/ (or $DEPLOYGUARD_CLUSTER_DIR):
#   kubeconfig               admin (group system:masters)
#   unprivileged.kubeconfig  a user with no RBAC bindings (deployguard-test-user)
#   bin/                     kubectl and the component binaries
#   cluster.env              ports and binary paths (sourced by component.sh and down.sh)
#   pki/ logs/ pids/ data/   certificates, component logs, pids, etcd data
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COMPONENT="$CLUSTER_SRC/component.sh"
WORKERS="${DEPLOYGUARD_CLUSTER_WORKERS:-3}"
start=$SECONDS

all_running() {
  [[ -f "$CLUSTER_DIR/cluster.env" ]] || return 1
  local c
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    "$COMPONENT" status "$c" 2>/dev/null | grep -q ' healthy$' || return 1
  done
}

if all_running; then
  log "cluster already up (kubeconfig: $CLUSTER_DIR/kubeconfig)"
  exit 0
fi
if [[ -e "$CLUSTER_DIR" ]]; then
  log "cleaning up a stopped or partial cluster in $CLUSTER_DIR"
  "$CLUSTER_SRC/down.sh"
fi

"$CLUSTER_SRC/build.sh"
command -v openssl >/dev/null || die "openssl is needed to make the cluster's certificates"

up_ok=0
on_exit() {
  local rc=$?
  ((up_ok)) && return 0
  log "cluster-up failed (exit $rc)"
  local f
  for f in "$CLUSTER_DIR"/logs/*.log; do
    [[ -f "$f" ]] || continue
    printf '\n===== last lines of %s =====\n' "$f" >&2
    tail -n 15 "$f" >&2
  done
  if [[ "${DEPLOYGUARD_KEEP_FAILED:-}" == 1 ]]; then
    log "DEPLOYGUARD_KEEP_FAILED=1: leaving $CLUSTER_DIR and its processes for inspection"
  else
    "$CLUSTER_SRC/down.sh" || true
  fi
  exit "$rc"
}
# On any failure (including die and interrupts), show the logs and stop what was started.
trap on_exit EXIT
trap 'exit 130' INT TERM

mkdir -p "$CLUSTER_DIR"/{pki,logs,pids,data,bin}
chmod 700 "$CLUSTER_DIR"

# ---------------------------------------------------------------- ports
declare -A taken=()
listening="$(ss -Htln 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u || true)"
pick_port() { # variable-name
  local p
  while :; do
    # Below the kernel's ephemeral range (32768+), so outgoing connections cannot hold it.
    p=$((20000 + RANDOM % 12000))
    [[ -z "${taken[$p]:-}" ]] || continue
    grep -qx "$p" <<<"$listening" && continue
    # Nothing answers on it either.
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    taken[$p]=1
    printf -v "$1" '%s' "$p"
    return
  done
}
for v in ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT KWOK_PORT; do pick_port "$v"; done

# ---------------------------------------------------------------- binaries
for b in etcd "${K8S_BINS[@]}" kwok; do
  ln -sfn "$(bin_path "$b")" "$CLUSTER_DIR/bin/$b"
done
KWOK_STAGES="$KWOK_CACHE/stages.yaml"
[[ -f "$KWOK_STAGES" ]] || die "kwok stages not found at $KWOK_STAGES (run test/cluster/build.sh)"

cat >"$CLUSTER_DIR/cluster.env" <<EOF
# Written by test/cluster/up.sh; read by component.sh, down.sh and the test helpers.
K8S_VERSION=$K8S_VERSION
ETCD_VERSION=$ETCD_VERSION
KWOK_VERSION=$KWOK_VERSION
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
KCM_PORT=$KCM_PORT
SCHED_PORT=$SCHED_PORT
KWOK_PORT=$KWOK_PORT
API_SERVER=https://127.0.0.1:$API_PORT
ETCD_BIN=$(bin_path etcd)
KUBE_APISERVER_BIN=$(bin_path kube-apiserver)
KUBE_CONTROLLER_MANAGER_BIN=$(bin_path kube-controller-manager)
KUBE_SCHEDULER_BIN=$(bin_path kube-scheduler)
KUBECTL_BIN=$(bin_path kubectl)
KWOK_BIN=$(bin_path kwok)
KWOK_STAGES=$KWOK_STAGES
EOF

# ---------------------------------------------------------------- PKI
P="$CLUSTER_DIR/pki"
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
newkey "$P/ca.key"
openssl req -x509 -new -key "$P/ca.key" -out "$P/ca.crt" -days 3650 -subj "/CN=deployguard-test-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null

sign() { # name subject extensions
  newkey "$P/$1.key"
  openssl req -new -key "$P/$1.key" -subj "$2" -out "$P/$1.csr" 2>/dev/null
  openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
    -days 3650 -out "$P/$1.crt" -extfile <(printf '%s\n' "$3") 2>/dev/null
  rm -f "$P/$1.csr"
}
CLIENT_EXT="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
sign apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=deployguard-admin" "$CLIENT_EXT"
sign controller-manager "/CN=system:kube-controller-manager" "$CLIENT_EXT"
sign scheduler "/CN=system:kube-scheduler" "$CLIENT_EXT"
sign kwok "/O=system:masters/CN=kwok-controller" "$CLIENT_EXT"
sign unprivileged "/O=deployguard:test-users/CN=deployguard-test-user" "$CLIENT_EXT"
# Aggregation layer (front proxy): its own CA and the API server's client certificate, as kubeadm.
newkey "$P/front-proxy-ca.key"
openssl req -x509 -new -key "$P/front-proxy-ca.key" -out "$P/front-proxy-ca.crt" -days 3650 \
  -subj "/CN=deployguard-test-front-proxy-ca" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
newkey "$P/front-proxy-client.key"
openssl req -new -key "$P/front-proxy-client.key" -subj "/CN=front-proxy-client" 2>/dev/null |
  openssl x509 -req -CA "$P/front-proxy-ca.crt" -CAkey "$P/front-proxy-ca.key" -CAcreateserial -days 3650 \
    -out "$P/front-proxy-client.crt" -extfile <(printf '%s\n' "$CLIENT_EXT") 2>/dev/null
# Service-account token signing key pair.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$P/sa.key" 2>/dev/null
openssl pkey -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null
chmod 600 "$P"/*.key

b64() { base64 -w0 <"$1"; }
kubeconfig() { # file cert-name user-name
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: deployguard-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(b64 "$P/ca.crt")
users:
- name: $3
  user:
    client-certificate-data: $(b64 "$P/$2.crt")
    client-key-data: $(b64 "$P/$2.key")
contexts:
- name: $3@deployguard-test
  context:
    cluster: deployguard-test
    user: $3
current-context: $3@deployguard-test
EOF
  chmod 600 "$1"
}
kubeconfig "$CLUSTER_DIR/kubeconfig" admin deployguard-admin
kubeconfig "$CLUSTER_DIR/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
kubeconfig "$CLUSTER_DIR/scheduler.kubeconfig" scheduler system:kube-scheduler
kubeconfig "$CLUSTER_DIR/kwok.kubeconfig" kwok kwok-controller
kubeconfig "$CLUSTER_DIR/unprivileged.kubeconfig" unprivileged deployguard-test-user

# ---------------------------------------------------------------- start
kubectl() { "$CLUSTER_DIR/bin/kubectl" --kubeconfig "$CLUSTER_DIR/kubeconfig" "$@"; }

"$COMPONENT" start etcd
"$COMPONENT" wait etcd 60
"$COMPONENT" start kube-apiserver
"$COMPONENT" wait kube-apiserver 120
for c in kube-controller-manager kube-scheduler kwok; do "$COMPONENT" start "$c"; done
for c in kube-controller-manager kube-scheduler kwok; do "$COMPONENT" wait "$c" 60; done

# ---------------------------------------------------------------- nodes
node() { # name role
  local extra_labels="" taints=""
  if [[ "$2" == control-plane ]]; then
    extra_labels='    node-role.kubernetes.io/control-plane: ""'
    taints='  taints:
  - key: node-role.kubernetes.io/control-plane
    effect: NoSchedule'
  else
    extra_labels='    node-role.kubernetes.io/worker: ""'
  fi
  cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $1
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $1
$extra_labels
spec:
$taints
status:
  capacity: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
  allocatable: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
EOF
}
{
  node kwok-control-plane control-plane
  for ((i = 1; i <= WORKERS; i++)); do node "kwok-worker-$i" worker; done
} | kubectl apply -f - >/dev/null
kubectl wait --for=condition=Ready node --all --timeout=120s >/dev/null
log "nodes Ready: $(kubectl get nodes -o name | tr '\n' ' ')"

# ---------------------------------------------------------------- check
# A Deployment whose pods must be scheduled onto the fake nodes and turn Running proves the
# scheduler, the controllers and kwok work together. Removed again afterwards.
NS=deployguard-cluster-check
kubectl create namespace "$NS" >/dev/null
kubectl -n "$NS" create deployment check --image=registry.k8s.io/pause:3.10 --replicas=2 >/dev/null
kubectl -n "$NS" rollout status deployment/check --timeout=120s >/dev/null
running="$(kubectl -n "$NS" get pods -o jsonpath='{range .items[*]}{.status.phase}{" "}{end}')"
[[ "$running" == "Running Running " ]] || die "check pods are not Running: $running"
kubectl delete namespace "$NS" --wait=false >/dev/null

up_ok=1
log "cluster up in $((SECONDS - start))s: Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION"
log "  kubeconfig: $CLUSTER_DIR/kubeconfig   kubectl: $CLUSTER_DIR/bin/kubectl   API server: https://127.0.0.1:$API_PORT"
