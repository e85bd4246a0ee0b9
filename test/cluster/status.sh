#!/usr/bin/env bash
# Prints the state of the test control plane: each component's pid and health, and the nodes.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -f "$CLUSTER_DIR/cluster.env" ]]; then
  echo "cluster: down (no $CLUSTER_DIR/cluster.env)"
  exit 1
fi
rc=0
for c in "${COMPONENTS[@]}"; do "$CLUSTER_SRC/component.sh" status "$c" || rc=1; done
# shellcheck source=/dev/null
source "$CLUSTER_DIR/cluster.env"
echo "API server: $API_SERVER   kubeconfig: $CLUSTER_DIR/kubeconfig"
"$CLUSTER_DIR/bin/kubectl" --kubeconfig "$CLUSTER_DIR/kubeconfig" get nodes 2>/dev/null || rc=1
exit $rc
