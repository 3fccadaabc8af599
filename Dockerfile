# syntax=docker/dockerfile:1
#
# streamsink image: one image for every CLI command (`worker`, `migrate`, `publish`, `status`, `dlq`).
#
#   docker build -t streamsink:0.1.0 .
#   docker run --rm streamsink:0.1.0 --help
#
# Base image pinning: the tag below pins the exact Node release and Debian release. For production builds, pin
# the digest too, so a re-pushed tag can never change what you ship:
#   docker buildx imagetools inspect node:24.21.0-bookworm-slim   # prints the index digest
#   docker build --build-arg NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:<digest> .
# (or let Renovate/Dependabot keep `FROM node:24.21.0-bookworm-slim@sha256:...` up to date). The digest is not
# written here because this repository is built and checked offline and a wrong digest breaks every build; the
# offline Dockerfile check (npm run validate:deploy) accepts a full x.y.z version or a digest, never `latest`.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- deps: production dependencies only ----------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: every runtime dependency is plain JavaScript, and no install script of a third party runs
# with network access inside the build.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- build: compile TypeScript to dist/ (tsc + the .lua/.sql assets) -----------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The `node` devDependency pins Node 24 on developer machines whose system node is older. This image already is
# Node 24, so install scripts are skipped (that package's would download a second Node binary) and its dangling
# `.bin/node` shim is removed, so `npm run build` uses the image's node.
RUN npm ci --ignore-scripts --no-audit --no-fund && rm -f node_modules/.bin/node
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/clean-dist.ts scripts/copy-assets.ts scripts/
COPY src/ src/
RUN npm run build

# ---- runtime ---------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    METRICS_PORT=9464
WORKDIR /app
# npm, npx and corepack are not needed to run the CLI: removing them shrinks the attack surface.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
# Files stay owned by root and are read-only for the process: the app cannot rewrite its own code.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# A numeric, non-root user that exists in no base image file, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# The only writable path the process needs is /tmp (an emptyDir in Kubernetes, a tmpfs in compose), so the
# container runs with a read-only root filesystem.
ENV TMPDIR=/tmp
EXPOSE 9464
# The worker drains in-flight batches on SIGTERM (STREAMSINK_SHUTDOWN_TIMEOUT_MS); node runs as PID 1 in exec
# form so it receives the signal itself.
STOPSIGNAL SIGTERM
# --max-semi-space-size=8 (MiB): V8's young generation otherwise grows to 3 x 32 MiB under the worker's steady
# allocation rate. --heap-growing-percent=200: the old generation is collected once it has grown to 3x what
# survived the last full collection (V8 lets it grow up to 4x by default: ~120 MiB of mostly garbage at
# ~30 MiB live). Together, a worker draining a 1M-entry backlog peaks at ~175 MiB RSS instead of ~290, at
# the same CPU per event (docs/performance.md#memory).
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=200", "dist/cli/main.js"]
CMD ["worker"]
