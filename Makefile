# deployguard — `make help` lists every target.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# npm scripts put node_modules/.bin first on PATH, where the `node` devDependency puts Node 24.
NPM ?= npm
RUN := $(NPM) run --silent
DEPLOYGUARD := node_modules/.bin/node dist/cli.js
VERSION := $(shell sed -n 's/^  "version": "\(.*\)",$$/\1/p' package.json)
IMAGE ?= deployguard:$(VERSION)

##@ General

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-26s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

node_modules/.package-lock.json: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@node_modules/.bin/node -e 'const [maj] = process.versions.node.split("."); if (maj !== "24") { console.error("expected Node 24 from the node devDependency, got " + process.version); process.exit(1) }'

.PHONY: deps
deps: node_modules/.package-lock.json ## Install dependencies (npm ci), including the pinned Node 24

.PHONY: build
build: deps ## Compile TypeScript to dist/
	$(RUN) build

.PHONY: lint
lint: deps ## Type-check, lint and check formatting
	$(RUN) typecheck
	$(RUN) lint

.PHONY: crd
crd: deps ## Regenerate the CRD (and the policy reference) from src/api/schema.ts
	$(RUN) generate

##@ Test

.PHONY: test-unit
test-unit: deps ## Unit, property and upstream-conformance tests (no cluster)
	$(NPM) test

.PHONY: tools-build
tools-build: ## Build (or reuse cached) the pinned helm and promtool the chart and alert tests run
	@test/tools/build.sh

.PHONY: test-integration
test-integration: deps tools-build ## Integration tests on the real control plane (builds and starts it if needed)
	$(RUN) test:integration

.PHONY: test
test: build lint test-unit test-integration ## Everything CI runs, from a fresh clone

##@ Demo and benchmarks

.PHONY: demo
demo: build cluster-up ## The operator's whole loop on the local control plane: policies, attacks, Events, status, metrics
	scripts/demo-cluster.sh

.PHONY: demo-offline
demo-offline: build ## Judge the example attack manifests offline (exit 1 = violations found, as expected)
	@echo '$$ deployguard evaluate -p examples/policies.yaml -f examples/attacks.yaml -f examples/benign.yaml'
	@code=0; $(DEPLOYGUARD) evaluate -p examples/policies.yaml -f examples/attacks.yaml -f examples/benign.yaml || code=$$?; \
	  if [ $$code -ne 1 ]; then echo "expected exit 1 (violations), got $$code" >&2; exit 1; fi

.PHONY: run
run: build ## Run the operator against the local control plane (make cluster-up first), text logs
	$(DEPLOYGUARD) run --kubeconfig .cluster/kubeconfig --log-format text

.PHONY: bench
bench: deps ## Engine micro-benchmark (pod evaluations per second on one core)
	$(RUN) bench

.PHONY: bench-hostile
bench-hostile: deps cluster-up ## The operator under a hostile tenant for 70 s: /healthz, a canary pod, RSS (docs/benchmarks.md)
	$(RUN) bench:hostile

.PHONY: bench-admission
bench-admission: deps cluster-up ## What the admission webhook adds to a pod CREATE at 50 concurrent clients, against the same CREATE without it (docs/benchmarks.md)
	$(RUN) bench:admission

.PHONY: bench-operator
bench-operator: deps cluster-up ## The operator against the API server's own limit: 10 to 200 pods/s beside a bare watch and a PATCH prober, then memory and cold start at 1k to 50k pods (docs/benchmarks.md)
	$(RUN) bench:operator

.PHONY: bench-sizing
bench-sizing: deps cluster-up ## The operator's memory, cold start and idle CPU at 0 to 10k pods and 200 policies (docs/benchmarks.md)
	$(RUN) bench:sizing

##@ Image and release

.PHONY: image
image: build ## Build the image deployguard:VERSION FROM scratch (podman; CONTAINER_TOOL=docker works too), print its size
	IMAGE=$(IMAGE) scripts/image/build.sh

.PHONY: sbom
sbom: ## CycloneDX SBOM of the image (npm sbom + Node + Debian packages) in dist-image/ (after make image)
	@test -f dist-image/context/app/app/package.json || { echo "no staged image: run make image first" >&2; exit 1; }
	PATH="$(CURDIR)/node_modules/.bin:$$PATH" node scripts/image/sbom.ts dist-image/context dist-image/deployguard-$(VERSION).cdx.json

.PHONY: test-image
test-image: deps ## Run the built image (make image first, or the test builds it) as a kubelet would, on the local control plane
	DEPLOYGUARD_KEEP_CLUSTER=$${DEPLOYGUARD_KEEP_CLUSTER:-1} node_modules/.bin/mocha --no-config --extension ts --node-option no-warnings=ExperimentalWarning --timeout 600000 --require test/integration/hooks.ts test/integration/image.test.ts

.PHONY: release
release: image sbom tools-build ## dist-release/: image tarball, SBOM, CRD, install.yaml, chart package, sha256sums, all checked
	IMAGE=$(IMAGE) scripts/release.sh

##@ Local control plane (real etcd, kube-apiserver, controller-manager, scheduler, kwok)

include test/cluster/cluster.mk
