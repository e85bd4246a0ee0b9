#!/usr/bin/env bash
# `make demo`: the operator's whole loop on the local control plane, by hand but scripted.
# Installs the CRD and the example policies, starts `deployguard run`, applies the example attacks,
# and shows what an on-call engineer would see: flagged pods, Events, policy status, metrics.
# Leaves the cluster up (make cluster-down stops it); removes what it applied.
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBECONFIG=$PWD/.cluster/kubeconfig
K=.cluster/bin/kubectl
NODE=node_modules/.bin/node
LOG=.cluster/demo-operator.log
METRICS=127.0.0.1:${DEMO_METRICS_PORT:-18080}
PROBES=127.0.0.1:${DEMO_PROBE_PORT:-18081}

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

cleanup() {
  [[ -n "${OP_PID:-}" ]] && kill "$OP_PID" 2>/dev/null && wait "$OP_PID" 2>/dev/null || true
  $K delete --ignore-not-found --wait=false -f examples/attacks.yaml -f examples/benign.yaml >/dev/null 2>&1 || true
  $K delete --ignore-not-found -f examples/policies.yaml >/dev/null 2>&1 || true
  $K delete --ignore-not-found clusterrolebinding demo-scraper >/dev/null 2>&1 || true
  $K delete --ignore-not-found serviceaccount demo-scraper -n default >/dev/null 2>&1 || true
  # The demo's CordonNode may have cordoned a worker; the operator never uncordons on its own.
  for n in $($K get nodes -o name); do
    if [[ -n "$($K get "$n" -o jsonpath='{.metadata.annotations.deployguard\.dev/cordoned-by}')" ]]; then
      $K uncordon "$n" >/dev/null
      $K annotate "$n" deployguard.dev/cordoned-by- deployguard.dev/cordoned-at- >/dev/null
    fi
  done
}
trap cleanup EXIT

start=$(date +%s)
step kubectl apply -f crds/deployguard.dev_containerdeploymentpolicies.yaml -f examples/policies.yaml
$K apply --server-side -f crds/deployguard.dev_containerdeploymentpolicies.yaml >/dev/null
$K wait --for=condition=Established crd/containerdeploymentpolicies.deployguard.dev --timeout=60s >/dev/null
$K apply -f examples/policies.yaml

step deployguard run --kubeconfig .cluster/kubeconfig --log-format text "&"
$NODE dist/cli.js run --kubeconfig .cluster/kubeconfig --log-format text \
  --metrics-bind-address "$METRICS" --health-probe-bind-address "$PROBES" >"$LOG" 2>&1 &
OP_PID=$!
for _ in $(seq 1 100); do
  curl -sf "http://$PROBES/readyz" >/dev/null && break
  kill -0 "$OP_PID" 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.2
done
curl -sf "http://$PROBES/readyz" >/dev/null || { echo "operator not ready" >&2; cat "$LOG"; exit 1; }

step kubectl apply -f examples/attacks.yaml -f examples/benign.yaml
$K apply -f examples/attacks.yaml -f examples/benign.yaml
sleep 6

step kubectl get pods -A -l deployguard.dev/violating=true
$K get pods -A -l deployguard.dev/violating=true \
  -o custom-columns='NAMESPACE:.metadata.namespace,POD:.metadata.name,VIOLATIONS:.metadata.annotations.deployguard\.dev/violations'
step kubectl get events -A --field-selector reportingComponent=deployguard.dev/operator
$K get events -A --field-selector reportingComponent=deployguard.dev/operator \
  --sort-by=.firstTimestamp -o custom-columns='OBJECT:.involvedObject.name,REASON:.reason,MESSAGE:.message' | cut -c1-180
step kubectl get cdp
$K get cdp
# /metrics answers only a bearer token allowed get /metrics (as Prometheus' would be): a
# ServiceAccount bound to config/rbac's deployguard-metrics-reader.
$K apply -f config/rbac/metrics_reader_role.yaml >/dev/null
$K create serviceaccount demo-scraper -n default --dry-run=client -o yaml | $K apply -f - >/dev/null
$K create clusterrolebinding demo-scraper --clusterrole=deployguard-metrics-reader \
  --serviceaccount=default:demo-scraper --dry-run=client -o yaml | $K apply -f - >/dev/null
TOKEN=$($K create token demo-scraper -n default --duration=10m)
step "curl -sk -H \"Authorization: Bearer \$TOKEN\" https://$METRICS/metrics | grep -E '^deployguard_(actions_total|detection_latency_seconds_(sum|count))'"
curl -sk -H "Authorization: Bearer $TOKEN" "https://$METRICS/metrics" | grep -E '^deployguard_(actions_total|detection_latency_seconds_(sum|count))' || true
step "curl -sk -o /dev/null -w '%{http_code}' https://$METRICS/metrics   # without a token"
curl -sk -o /dev/null -w '%{http_code}\n' "https://$METRICS/metrics" || true
step "operator log (warnings)"
grep -E ' (WARN|ERROR) ' "$LOG" | cut -c1-200 | head -25 || true
echo
echo "full loop in $(($(date +%s) - start)) s; operator log: $LOG"
echo "the control plane is still up (make cluster-down stops it)"
