# Make fragment for the test control plane (included by the top-level Makefile; paths are
# relative to this file, so it works from the repository root). See docs/control-plane.md.
CLUSTER_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: cluster-build cluster-up cluster-down cluster-status cluster-restart-apiserver

cluster-build: ## Build (or reuse cached) etcd, Kubernetes control plane, kubectl and kwok binaries
	@$(CLUSTER_MK_DIR)/build.sh

cluster-up: ## Start the local test control plane with kwok nodes; writes .cluster/kubeconfig
	@$(CLUSTER_MK_DIR)/up.sh

cluster-down: ## Stop every control-plane process started by cluster-up and remove .cluster/
	@$(CLUSTER_MK_DIR)/down.sh

cluster-status: ## Show each control-plane component's pid and health, and the nodes
	@$(CLUSTER_MK_DIR)/status.sh

cluster-restart-apiserver: ## Restart only kube-apiserver of the running test cluster
	@$(CLUSTER_MK_DIR)/component.sh restart kube-apiserver
