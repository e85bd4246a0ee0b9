#!/usr/bin/env bash
# Prints the replace block for test/cluster/k8s/go.mod: every staging module that the given
# k8s.io/kubernetes release points at ./staging/src/..., pinned to the matching published
# v0.N.x. Use it when moving to another Kubernetes release:
#
#   test/cluster/gen-k8s-replace.sh v1.36.3
#
# then paste the block into k8s/go.mod (replacing the old one), bump the require line, and run
# `go mod tidy` in test/cluster/k8s.
set -euo pipefail
v="${1:?usage: $0 KUBERNETES_VERSION (for example v1.36.3)}"
staging="v0.${v#v1.}"
gomod="$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
[[ -f "$gomod" ]] || { echo "could not download k8s.io/kubernetes@$v" >&2; exit 1; }
echo "replace ("
awk -v s="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\/src\// { printf "\t%s => %s %s\n", $1, $1, s }' "$gomod"
echo ")"
