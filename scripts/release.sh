#!/usr/bin/env bash
# `make release` (after make image and make sbom): the artefacts of one version in dist-release/,
# each checked, with their SHA-256 sums.
#
#   deployguard-V.image.tar           the image, docker-archive (docker/podman load, ctr import,
#                                     kind load image-archive), named deployguard:V
#   deployguard-V.cdx.json            its CycloneDX SBOM
#   deployguard-V.crd.yaml            the ContainerDeploymentPolicy CRD
#   deployguard-V.install.yaml        `kubectl kustomize config/default`: everything, one file
#   deployguard-V.tgz                 the Helm chart, `helm package`
#   deployguard-V.npm.tgz             the npm package (`npx --package=./deployguard-V.npm.tgz
#                                     deployguard evaluate ...`), `npm pack`
#   sha256sums.txt                    `sha256sum -c sha256sums.txt` in dist-release/
#
# kubectl and helm are the pinned builds (make cluster-build, make tools-build).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# bin_path (kubectl) and the binary cache are the control plane's.
# shellcheck source=../test/cluster/lib.sh
source "$REPO_ROOT/test/cluster/lib.sh"
cd "$REPO_ROOT"
log() { printf '[release] %s\n' "$*" >&2; }
die() { printf '[release] ERROR: %s\n' "$*" >&2; exit 1; }

VERSION="$(node_modules/.bin/node -p 'require("./package.json").version')"
IMAGE="${IMAGE:-deployguard:$VERSION}"
TOOL="${CONTAINER_TOOL:-podman}"
OUT="$REPO_ROOT/dist-release"
NAME="deployguard-$VERSION"
SBOM="dist-image/$NAME.cdx.json"
KUBECTL="$(bin_path kubectl)"
HELM="$(test/tools/build.sh --print helm | cut -d' ' -f2)"
[[ -x "$KUBECTL" ]] || die "no kubectl at $KUBECTL: run 'make cluster-build'"
[[ -x "$HELM" ]] || die "no helm at $HELM: run 'make tools-build'"
[[ -f "$SBOM" ]] || die "no $SBOM: run 'make sbom'"
"$TOOL" image exists "$IMAGE" 2>/dev/null || "$TOOL" image inspect "$IMAGE" >/dev/null ||
  die "no image $IMAGE: run 'make image'"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HELM_CACHE_HOME="$work/helm/cache" HELM_CONFIG_HOME="$work/helm/config" HELM_DATA_HOME="$work/helm/data"
rm -rf "$OUT"
mkdir -p "$OUT"

# --- The image archive, named deployguard:V ----------------------------------------------------
# podman names a local image localhost/deployguard:V in the archive, which a cluster's runtime
# would not match against the manifests' deployguard:V; the archive is renamed to the short name,
# which every runtime normalises the way it normalises the manifests' image.
log "$TOOL save $IMAGE"
mkdir "$work/image"
"$TOOL" save --format docker-archive -o "$work/image.tar" "$IMAGE" >/dev/null 2>&1 ||
  "$TOOL" save -o "$work/image.tar" "$IMAGE"
tar -xf "$work/image.tar" -C "$work/image"
node_modules/.bin/node -e '
  const fs = require("node:fs");
  const [dir, name] = process.argv.slice(1);
  const m = JSON.parse(fs.readFileSync(`${dir}/manifest.json`, "utf8"));
  if (m.length !== 1) throw new Error(`expected one image in the archive, got ${m.length}`);
  m[0].RepoTags = [name];
  fs.writeFileSync(`${dir}/manifest.json`, JSON.stringify(m));
  if (fs.existsSync(`${dir}/repositories`)) {
    const r = JSON.parse(fs.readFileSync(`${dir}/repositories`, "utf8"));
    const id = Object.values(Object.values(r)[0])[0];
    const [repo, tag] = name.split(":");
    fs.writeFileSync(`${dir}/repositories`, JSON.stringify({ [repo]: { [tag]: id } }));
  }
' "$work/image" "deployguard:$VERSION"
(cd "$work/image" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
  -cf "$OUT/$NAME.image.tar" -- *)

cp "$SBOM" "$OUT/$NAME.cdx.json"
cp crds/deployguard.dev_containerdeploymentpolicies.yaml "$OUT/$NAME.crd.yaml"
"$KUBECTL" kustomize config/default >"$OUT/$NAME.install.yaml"
"$HELM" package charts/deployguard --destination "$work/chart" >/dev/null
mv "$work/chart/deployguard-"*.tgz "$OUT/$NAME.tgz"
mv "$(scripts/npm-package.sh pack "$work/npm")" "$OUT/$NAME.npm.tgz"

# --- Checks ------------------------------------------------------------------------------------
log "checking"
tar -xOf "$OUT/$NAME.image.tar" manifest.json | grep "\"RepoTags\":\[\"deployguard:$VERSION\"\]" >/dev/null ||
  die "the image archive is not named deployguard:$VERSION"
# The archive loads (into a throwaway store, so the local images stay as they are) and is the
# image that was built, with its version label.
if [[ "$TOOL" == podman ]]; then
  store=(podman --root "$work/store" --runroot "$work/run" --storage-driver vfs)
  "${store[@]}" load -q -i "$OUT/$NAME.image.tar" >/dev/null
  want="$(podman image inspect --format '{{.Id}}' "$IMAGE")"
  got="$("${store[@]}" image inspect --format '{{.Id}}' "deployguard:$VERSION")"
  [[ "$got" == "$want" ]] || die "the archive holds image $got, not $want"
  label="$("${store[@]}" image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "deployguard:$VERSION")"
  [[ "$label" == "$VERSION" ]] || die "the archived image's version label is '$label', not $VERSION"
  "${store[@]}" rmi -a -f >/dev/null 2>&1 || true
fi
# What a containerd node does with it (`ctr -n k8s.io images import`, which kind's `load
# image-archive` also runs inside its nodes): a throwaway containerd, with no CRI plugin, imports
# the archive under the fully qualified form of deployguard:V (the one a kubelet resolves the
# manifests' deployguard:V to, not podman's localhost/...), and its config is the built image's.
# containerd comes from apt-get when it is missing (CTR_CHECK=0 skips this on a machine without).
if [[ "${CTR_CHECK:-1}" != 0 ]]; then
  if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
    command -v apt-get >/dev/null || die "containerd is not installed (CTR_CHECK=0 skips the import check)"
    SUDO=()
    [[ "$(id -u)" == 0 ]] || SUDO=(sudo)
    log "installing containerd (apt-get)"
    "${SUDO[@]}" apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq containerd >&2
  fi
  ctd="$work/containerd"
  mkdir -p "$ctd"
  printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s/sock"\n' \
    "$ctd" "$ctd" "$ctd" >"$ctd/config.toml"
  containerd --config "$ctd/config.toml" >"$ctd/log" 2>&1 &
  ctd_pid=$!
  trap 'kill "$ctd_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
  ctr=(ctr --address "$ctd/sock" -n k8s.io)
  for _ in $(seq 50); do "${ctr[@]}" version >/dev/null 2>&1 && break; sleep 0.2; done
  "${ctr[@]}" images import "$OUT/$NAME.image.tar" >/dev/null || die "ctr images import failed: $(tail -n 5 "$ctd/log")"
  refs="$("${ctr[@]}" images ls -q)"
  ref="$(grep -x "[a-z0-9.-]*/library/deployguard:$VERSION" <<<"$refs" || true)"
  [[ -n "$ref" && "$(wc -l <<<"$refs")" == 1 ]] ||
    die "ctr import named the image '$refs', not the fully qualified deployguard:$VERSION"
  manifest="$("${ctr[@]}" images ls | awk -v ref="$ref" '$1 == ref { print $3 }')"
  config="$("${ctr[@]}" content get "$manifest" | node_modules/.bin/node -p 'JSON.parse(require("node:fs").readFileSync(0, "utf8")).config.digest')"
  want_id="$("$TOOL" image inspect --format '{{.Id}}' "$IMAGE")"
  [[ "$config" == "sha256:${want_id#sha256:}" ]] || die "containerd imported image $config, not $want_id"
  kill "$ctd_pid"
  wait "$ctd_pid" 2>/dev/null || true
  trap 'rm -rf "$work"' EXIT
  log "ctr images import: $ref, the built image"
fi
chart_version="$(tar -xOzf "$OUT/$NAME.tgz" deployguard/Chart.yaml | awk '$1 == "version:" { print $2 }')"
app_version="$(tar -xOzf "$OUT/$NAME.tgz" deployguard/Chart.yaml | awk '$1 == "appVersion:" { print $2 }' | tr -d "'\"")"
[[ "$chart_version" == "$VERSION" && "$app_version" == "$VERSION" ]] ||
  die "the chart is version $chart_version (appVersion $app_version), not $VERSION"
"$HELM" lint --strict "$OUT/$NAME.tgz" >/dev/null || die "helm lint --strict $NAME.tgz failed"
"$HELM" template deployguard "$OUT/$NAME.tgz" --namespace deployguard-system |
  grep "image: \"deployguard:$VERSION\"" >/dev/null || die "the chart does not run deployguard:$VERSION"
grep -q "image: deployguard:$VERSION\$" "$OUT/$NAME.install.yaml" ||
  die "install.yaml does not run deployguard:$VERSION"
cmp -s "$OUT/$NAME.crd.yaml" charts/deployguard/crds/deployguard.dev_containerdeploymentpolicies.yaml ||
  die "the chart's CRD differs from crds/"
npm_version="$(tar -xOzf "$OUT/$NAME.npm.tgz" package/package.json | node_modules/.bin/node -p 'JSON.parse(require("node:fs").readFileSync(0, "utf8")).version')"
[[ "$npm_version" == "$VERSION" ]] || die "the npm package is version $npm_version, not $VERSION"
tar -tzf "$OUT/$NAME.npm.tgz" | grep -x 'package/dist/cli.js' >/dev/null || die "the npm package holds no dist/cli.js"
node_modules/.bin/node -e '
  const b = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  if (b.bomFormat !== "CycloneDX" || b.metadata.component.version !== process.argv[2])
    throw new Error("the SBOM is not the CycloneDX SBOM of version " + process.argv[2]);
' "$OUT/$NAME.cdx.json" "$VERSION"

(cd "$OUT" && sha256sum -- *.tar *.json *.yaml *.tgz >sha256sums.txt && sha256sum --quiet -c sha256sums.txt)
log "dist-release/ ($(du -sm "$OUT" | cut -f1) MiB):"
(cd "$OUT" && ls -l --block-size=K -- * | awk '{ print "  " $5 "  " $9 }') >&2
