#!/usr/bin/env bash
# Stops every process that up.sh started (each by its recorded pid, newest component first) and
# removes the cluster state directory. Idempotent: with nothing running it just cleans up.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ! -e "$CLUSTER_DIR" ]]; then
  log "no cluster state in $CLUSTER_DIR; nothing to do"
  exit 0
fi
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  stop_component "${COMPONENTS[i]}"
done
# Refuse to delete anything that does not look like our state directory.
if [[ -d "$CLUSTER_DIR/pids" || -f "$CLUSTER_DIR/cluster.env" || -z "$(ls -A "$CLUSTER_DIR")" ]]; then
  rm -rf "$CLUSTER_DIR"
  log "cluster down; removed $CLUSTER_DIR"
else
  die "$CLUSTER_DIR does not look like a cluster state directory; not removing it"
fi
