# Serval's container image: Node 24 on Debian bookworm (glibc, which onnxruntime-node's binaries need; no Alpine).
#   docker build -t serval .
#   docker run -p 50505:50505 serval
#   docker run -p 50505:50505 -v "$PWD/my-models:/models:ro" -e SERVAL_MODEL_REPOSITORY=/models serval
# Stages: `build` compiles TypeScript with the dev dependencies; `deps` installs the runtime dependencies only
# (cached on package-lock.json alone, so a source change does not reinstall them); the last stage ships both.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
# onnxruntime-node's postinstall would download GPU libraries from outside the npm registry; the CPU
# binaries ship inside the package. .npmrc runs no install scripts; the variable covers a build without it.
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    ORT_DISABLE_TELEMETRY=1 \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false
COPY package.json package-lock.json .npmrc ./

FROM base AS build
# `npm ci` can print "Exit handler never called!" and still exit 0 on a network failure; `npm ls` then fails
# the build on the half-installed tree instead of letting it surface at runtime.
RUN npm ci && npm ls >/dev/null
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
# tsc, then esbuild bundles the playground (src/playground) into dist/playground.
RUN npm run build

FROM base AS deps
# onnxruntime-node ships binaries for every OS and CPU (~290 MB); keep linux/<this arch> only (~45 MB). Type
# declarations and source maps (~24 MB over all the packages) serve editors and debuggers, never the running server.
RUN npm ci --omit=dev && npm ls --omit=dev >/dev/null \
 && arch="$(node -p process.arch)" \
 && bin=node_modules/onnxruntime-node/bin/napi-v6 \
 && test -f "$bin/linux/$arch/onnxruntime_binding.node" \
 && find "$bin" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + \
 && find "$bin/linux" -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} + \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete \
 && node -e "require('onnxruntime-node')" \
 && rm -rf /root/.npm /tmp/*

FROM ${NODE_IMAGE} AS runtime
# VERSION and SOURCE are passed by the release build (test/container passes package.json's version).
ARG VERSION=dev
ARG SOURCE=""
LABEL org.opencontainers.image.title="serval" \
      org.opencontainers.image.description="A small, fast, standard model server for ONNX models: the Open Inference Protocol (KServe V2) and KServe V1 over Fastify and onnxruntime-node." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}"
# onnxruntime >= 1.29 sends usage telemetry from Linux too and keeps a device id and an event database under
# ~/.cache; a server in a container should not phone home. `-e ORT_DISABLE_TELEMETRY=0` turns it back on.
ENV NODE_ENV=production \
    ORT_DISABLE_TELEMETRY=1
WORKDIR /app
# Owned by root and read-only for the `node` user that runs the server: the process cannot rewrite its own code.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json serval.config.json ./
COPY models ./models
COPY --from=build /app/dist ./dist
USER node
# HTTP, and gRPC (inference.GRPCInferenceService, grpc.health.v1, reflection).
EXPOSE 50505 50506
# Liveness through node itself (the slim image has no curl); honours SERVAL_PORT when it is set with -e.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.SERVAL_PORT||50505)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The server drains in-flight requests on SIGTERM within SERVAL_SHUTDOWN_GRACE_MS (default 8 s), under
# `docker stop`'s default 10 s before SIGKILL; raise `docker stop -t` if you raise the grace.
STOPSIGNAL SIGTERM
# node itself is PID 1 (not npm, which does not forward signals); SERVAL_WORKERS defaults to one per core.
CMD ["node", "dist/server.js"]
