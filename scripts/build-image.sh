#!/usr/bin/env bash
# Optional: build the Dockerfile without a Docker engine and smoke-run the result (docs/deploy.md, "Building
# the image without Docker"). Needs root, Debian's buildah and debootstrap (installed when missing), and the
# npm registry reachable from inside the build. Not run by CI.
#
#   bash scripts/build-image.sh            # builds localhost/streamsink:dev
#
# No registry pull: the base image is made here, as a stand-in for node:<version>-bookworm-slim: a minimal
# Debian bookworm root (debootstrap --variant=minbase) plus the Node binary of the `node` devDependency and the
# machine's npm. Buildah keeps its own storage under $STREAMSINK_BUILDAH_ROOT, removed with --clean.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT="${STREAMSINK_BUILDAH_ROOT:-/var/tmp/streamsink-buildah}"
if [ "${1:-}" = "--clean" ]; then rm -rf "$ROOT"; echo "removed $ROOT"; exit 0; fi
[ "$(id -u)" = "0" ] || { echo "build-image.sh needs root (buildah chroot isolation, debootstrap)" >&2; exit 2; }

log() { printf '\n== %s\n' "$*"; }
need() {
  command -v "$1" >/dev/null && return
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need buildah buildah
need debootstrap debootstrap

B=(buildah --root "$ROOT/storage" --runroot "$ROOT/run" --storage-driver vfs)
NODE_BIN=node_modules/node/bin/node
NODE_VERSION=$("$NODE_BIN" --version | sed 's/^v//')
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
BASE="localhost/streamsink-node-base:${NODE_VERSION}-bookworm-slim"
IMAGE=localhost/streamsink:dev
mkdir -p "$ROOT"

if ! "${B[@]}" inspect --type image "$BASE" >/dev/null 2>&1; then
  log "base image $BASE (debootstrap minbase bookworm + node $NODE_VERSION + npm $(npm --version))"
  rootfs="$ROOT/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" >"$ROOT/debootstrap.log" 2>&1 \
    || { tail -20 "$ROOT/debootstrap.log" >&2; exit 1; }
  install -m 0755 "$NODE_BIN" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$NPM_DIR" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  # Where outbound TLS goes through an intercepting proxy, the host trusts an extra CA (NODE_EXTRA_CA_CERTS);
  # npm ci inside the build needs it too. Only this local stand-in base carries it, never the real image.
  ca_env=()
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
    install -D -m 0644 "$NODE_EXTRA_CA_CERTS" "$rootfs/etc/ssl/host-extra-ca.crt"
    ca_env=(--env NODE_EXTRA_CA_CERTS=/etc/ssl/host-extra-ca.crt)
  fi
  ctr=$("${B[@]}" from scratch)
  mnt=$("${B[@]}" mount "$ctr")
  cp -a "$rootfs"/. "$mnt"/
  "${B[@]}" umount "$ctr" >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$NODE_VERSION" "${ca_env[@]}" --cmd node "$ctr"
  "${B[@]}" commit --quiet "$ctr" "$BASE" >/dev/null
  "${B[@]}" rm "$ctr" >/dev/null
  rm -rf "$rootfs"
fi

log "build $IMAGE from the Dockerfile (isolation chroot, NODE_IMAGE=$BASE)"
"${B[@]}" bud --isolation=chroot --layers=false --build-arg "NODE_IMAGE=$BASE" -t "$IMAGE" -f Dockerfile .

log "image configuration"
"${B[@]}" inspect --type image --format \
  'user={{.OCIv1.Config.User}} stopsignal={{.OCIv1.Config.StopSignal}} entrypoint={{.OCIv1.Config.Entrypoint}} cmd={{.OCIv1.Config.Cmd}} env={{.OCIv1.Config.Env}}' \
  "$IMAGE"

log "smoke run: streamsink --help, as the image's user"
ctr=$("${B[@]}" from "$IMAGE")
trap '"${B[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
"${B[@]}" run --isolation=chroot "$ctr" -- node dist/cli/main.js --help
"${B[@]}" run --isolation=chroot "$ctr" -- node dist/cli/main.js --version
# Each command's --help loads its module and everything it imports (ioredis, pg, pino, prom-client, zod) from
# the production node_modules.
for cmd in worker migrate publish status dlq; do
  "${B[@]}" run --isolation=chroot "$ctr" -- node dist/cli/main.js "$cmd" --help >/dev/null \
    || { echo "FAIL streamsink $cmd --help" >&2; exit 1; }
  echo "ok: streamsink $cmd --help"
done
# The process runs as 65532 and cannot write its own code; dev dependencies and npm are absent.
"${B[@]}" run --isolation=chroot "$ctr" -- node -e '
  const fs = require("node:fs");
  const fail = (m) => { console.error("FAIL " + m); process.exit(1); };
  if (process.getuid() !== 65532) fail("uid " + process.getuid());
  try { fs.writeFileSync("/app/dist/x", "x"); fail("/app is writable"); } catch (e) { if (e.code !== "EACCES") throw e; }
  for (const dev of ["typescript", "vitest", "node", "@biomejs"]) if (fs.existsSync("/app/node_modules/" + dev)) fail("dev dependency " + dev);
  for (const p of ["/usr/local/bin/npm", "/usr/local/lib/node_modules/npm"]) if (fs.existsSync(p)) fail(p + " present");
  for (const f of ["dist/cli/main.js", "dist/producers/publish-idempotent.lua", "dist/lib/migrations/0001-initial.sql"]) if (!fs.existsSync("/app/" + f)) fail("missing " + f);
  fs.writeFileSync("/tmp/ok", "ok");
  console.log("ok: uid 65532, /app read-only to it, no dev dependencies, no npm, assets present, /tmp writable");
'
"${B[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' | sed 's/^/image: /'
