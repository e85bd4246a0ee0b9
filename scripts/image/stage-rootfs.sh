#!/usr/bin/env bash
# Stages the root filesystem of the deployguard image, which the Containerfile copies FROM scratch.
# No base image is pulled: every input comes from a package registry, the way distroless is made.
#
#   - Node: the very binary of the `node` devDependency (npm package node-linux-<arch>), the
#     version package-lock.json pins, copied byte for byte;
#   - the app: dist/ (npm run build, .js only), package.json (for "type": "module"), crds/, and
#     the production dependencies, installed with `npm ci --omit=dev` from package-lock.json;
#   - glibc, libstdc++, libgcc and the CA bundle: Debian packages fetched with `apt-get download`
#     (cached outside the clone) and unpacked with `dpkg-deb -x`, keeping only the shared objects
#     Node loads, the CA bundle and each package's copyright file;
#   - /etc/passwd and /etc/group with root and nonroot (65532), /etc/nsswitch.conf, an empty /tmp.
# Nothing else: no shell, no package manager, no coreutils.
#
#   scripts/image/stage-rootfs.sh [OUT]     default OUT: dist-image/context
#
# OUT/base holds what changes rarely (Node, libraries, /etc), OUT/app the application: two layers,
# so a new build of the app reuses the 120 MB Node layer. Needs Linux with apt-get and dpkg-deb
# (Debian or Ubuntu), `npm ci` done (make deps) and dist/ built (make build).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$REPO_ROOT/dist-image/context}"
CACHE="${DEPLOYGUARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/deployguard}/image"
DEBS="$CACHE/debs"
PACKAGES=(libc6 libstdc++6 libgcc-s1 ca-certificates)

log() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] ERROR: %s\n' "$*" >&2; exit 1; }

cd "$REPO_ROOT"
for cmd in apt-get dpkg-deb dpkg; do
  command -v "$cmd" >/dev/null || die "$cmd is needed (a Debian or Ubuntu machine or container)"
done
[[ -x node_modules/.bin/node ]] || die "node_modules/.bin/node is missing: run 'make deps' (npm ci) first"
[[ -f dist/cli.js ]] || die "dist/cli.js is missing: run 'make build' first"
# npm runs under the pinned Node too (its engine check then passes).
export PATH="$REPO_ROOT/node_modules/.bin:$PATH"

ARCH="$(dpkg --print-architecture)"
case "$ARCH" in
  amd64) TRIPLET=x86_64-linux-gnu LOADER=ld-linux-x86-64.so.2 LOADER_LINK=/lib64/ld-linux-x86-64.so.2 ;;
  arm64) TRIPLET=aarch64-linux-gnu LOADER=ld-linux-aarch64.so.1 LOADER_LINK=/lib/ld-linux-aarch64.so.1 ;;
  *) die "unsupported architecture $ARCH (amd64 and arm64 are)" ;;
esac

# --- Node: the pinned binary, unchanged -------------------------------------------------------
pinned="$(node -p 'require("./package-lock.json").packages["node_modules/node"].version')"
node_bin="$(readlink -f node_modules/.bin/node)"
have="$(node_modules/.bin/node --version)"
[[ "$have" == "v$pinned" ]] || die "node_modules has Node $have, package-lock.json pins v$pinned: run 'make deps'"

# --- Debian packages, cached outside the clone ------------------------------------------------
mkdir -p "$DEBS"
want_debs=()
fetch() { # package -> the cached .deb of its candidate version, downloaded when missing
  local p="$1" v pa f
  v="$(apt-cache policy "$p" | awk '$1 == "Candidate:" { print $2 }')"
  if [[ -z "$v" || "$v" == "(none)" ]]; then
    log "apt-get update (no candidate for $p)"
    apt-get update -qq >&2 || die "apt-get update failed (run it as root, or with sudo, once)"
    v="$(apt-cache policy "$p" | awk '$1 == "Candidate:" { print $2 }')"
  fi
  [[ -n "$v" && "$v" != "(none)" ]] || die "no Debian package $p is available"
  pa="$(apt-cache show "$p=$v" | awk '$1 == "Architecture:" { print $2; exit }')"
  # Debian names a file name_version_arch.deb with the epoch's ':' escaped as %3a.
  f="${p}_${v//:/%3a}_${pa}.deb"
  if [[ ! -f "$DEBS/$f" ]]; then
    log "apt-get download $p=$v"
    (cd "$DEBS" && apt-get download -qq "$p=$v" >&2) || die "apt-get download $p=$v failed"
  fi
  want_debs+=("$DEBS/$f")
}
for p in "${PACKAGES[@]}"; do fetch "$p"; done
# libstdc++6 and libgcc-s1 keep their copyright in the doc directory of gcc-N-base (a symlink).
for d in "${want_debs[@]}"; do
  p="$(dpkg-deb -f "$d" Package)"
  target="$(dpkg-deb -c "$d" | awk -v p="./usr/share/doc/$p" '$6 == p && $7 == "->" { print $8 }')"
  [[ -z "$target" ]] || fetch "$target"
done

# --- Stage ------------------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT/base" "$OUT/app"
BASE="$OUT/base"
unpacked="$(mktemp -d)"
trap 'rm -rf "$unpacked"' EXIT
for d in "${want_debs[@]}"; do dpkg-deb -x "$d" "$unpacked"; done

install -d -m 0755 "$BASE/lib/$TRIPLET" "$BASE/usr/lib/$TRIPLET" "$BASE/etc/ssl/certs" \
  "$BASE/usr/share/doc" "$BASE/nodejs/bin" "$BASE/home/nonroot"
install -d -m 1777 "$BASE/tmp"
# The shared objects Node links (ldd: libc, libm, libdl, libpthread, libstdc++, libgcc_s) and those
# glibc loads at run time for name resolution (nss files/dns, libresolv) and timers (librt).
for so in "$LOADER" libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libresolv.so.2 \
  libnss_files.so.2 libnss_dns.so.2 libgcc_s.so.1; do
  src="$(find "$unpacked" -name "$so" -path "*/$TRIPLET/*" | head -1)"
  [[ -n "$src" ]] || die "$so is not in the Debian packages"
  install -m 0755 "$(readlink -f "$src")" "$BASE/lib/$TRIPLET/$so"
done
src="$(find "$unpacked" -name 'libstdc++.so.6' -path "*/$TRIPLET/*" | head -1)"
[[ -n "$src" ]] || die "libstdc++.so.6 is not in the Debian packages"
install -m 0755 "$(readlink -f "$src")" "$BASE/usr/lib/$TRIPLET/libstdc++.so.6"
install -d -m 0755 "$BASE$(dirname "$LOADER_LINK")"
[[ -e "$BASE$LOADER_LINK" ]] || ln -s "/lib/$TRIPLET/$LOADER" "$BASE$LOADER_LINK"
# The CA bundle, as update-ca-certificates would write it from the Mozilla set.
find "$unpacked/usr/share/ca-certificates/mozilla" -name '*.crt' | LC_ALL=C sort | xargs cat \
  >"$BASE/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$BASE/etc/ssl/certs/ca-certificates.crt"
for d in "${want_debs[@]}"; do
  p="$(dpkg-deb -f "$d" Package)"
  install -D -m 0644 "$(readlink -f "$unpacked/usr/share/doc/$p/copyright")" \
    "$BASE/usr/share/doc/$p/copyright"
done
# The packages' control stanzas where distroless keeps them, so scanners (trivy, grype, syft) see
# which Debian packages the image holds; scripts/image/sbom.ts reads them too.
install -d -m 0755 "$BASE/var/lib/dpkg/status.d"
for d in "${want_debs[@]}"; do
  p="$(dpkg-deb -f "$d" Package)"
  dpkg-deb -f "$d" Package Version Architecture Maintainer Source Homepage Description |
    sed '1a Status: install ok installed' >"$BASE/var/lib/dpkg/status.d/$p"
done
install -m 0755 "$node_bin" "$BASE/nodejs/bin/node"
install -D -m 0644 node_modules/node/node_modules/node-linux-*/LICENSE "$BASE/usr/share/doc/nodejs/LICENSE"

cat >"$BASE/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$BASE/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
printf 'hosts: files dns\n' >"$BASE/etc/nsswitch.conf"
chmod 0644 "$BASE/etc/passwd" "$BASE/etc/group" "$BASE/etc/nsswitch.conf"
chown 65532:65532 "$BASE/home/nonroot" 2>/dev/null || true

# --- The application --------------------------------------------------------------------------
APP="$OUT/app/app"
install -d -m 0755 "$APP"
cp package.json package-lock.json "$APP/"
log "npm ci --omit=dev (production dependencies only)"
(cd "$APP" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
rm -f "$APP/node_modules/.package-lock.json"
# Type declarations and source maps are never loaded at run time (no --enable-source-maps): about
# 48 of the dependencies' 96 MB, most of it @kubernetes/client-node's generated models.
find "$APP/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -name '*.map' \) -delete
cp -r dist "$APP/dist"
find "$APP/dist" -type f ! -name '*.js' -delete
cp -r crds "$APP/crds"
cp LICENSE "$APP/LICENSE"
# Root owns everything and nobody may write it; only /tmp is writable (and read-only in a pod).
find "$OUT" -type d -exec chmod u=rwx,go=rx {} + 2>/dev/null || true
chmod 1777 "$BASE/tmp"
find "$APP" -type f -exec chmod u=rw,go=r {} +

log "staged $(du -sm "$OUT" | cut -f1) MiB in $OUT (Node $have, $ARCH)"
