# syntax=docker/dockerfile:1
# The polaris-xds image: `docker build -t polaris-xds:0.1.0 .` (the Helm chart in
# deploy/helm/polaris-xds runs it). Two stages: the first generates the protobuf types and compiles
# TypeScript; the second holds only what `polaris-xds serve` needs and runs as a non-root user.

FROM node:20-slim AS build
WORKDIR /src
# `npm ci` runs the package's `prepare` script (npm run gen && npm run build), so everything gen
# and build read must be in place first: the protos, the generator script and the sources.
COPY package.json package-lock.json tsconfig.json ./
COPY scripts/gen-protos.mjs scripts/
COPY proto/ proto/
COPY src/ src/
RUN npm ci --no-audit --no-fund \
 && test -f dist/cli.js

FROM node:20-slim AS runtime
ENV NODE_ENV=production
# glibc malloc: every response to a syncing Envoy is a large short-lived buffer (megabytes for a
# big mesh). With glibc's defaults, freeing one raises the mmap threshold, later ones come from
# arenas that are never returned, and RSS stays at its sync-storm peak: 5,000 streams held
# 118 KB RSS each this way, 49 KB with these two settings (bench/README.md).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; no install scripts (none is needed to run, and `prepare` would
# try to build again).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /src/dist/ dist/
COPY bin/ bin/
# The example mesh (the default source when neither Polaris nor a file is configured).
COPY examples/ examples/
# The base image's `node` user (uid 1000, gid 1000); the chart sets the same numeric ids so that
# the kubelet can verify runAsNonRoot.
USER node
# xDS gRPC (ADS, and grpc.health.v1), then admin HTTP (/healthz, /readyz, /metrics).
EXPOSE 15010 15014
ENTRYPOINT ["node", "bin/polaris-xds.js"]
CMD ["serve"]
