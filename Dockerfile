# syntax=docker/dockerfile:1
# Every JetMesh Node image — the operator, the four shop services and the edge (jetmesh-ingress,
# dispatchers) — from this one Dockerfile, built from the repository root. APP is the workspace directory of the program, LIBS the
# workspace directories it imports, dependencies first (`make images` passes both, from
# JETMESH_IMAGES in mk/kind.mk; charts/jetmesh/test/images.test.ts checks each list is complete):
#   docker build --build-arg APP=services/order --build-arg LIBS="services/mesh services/shop" -t jetmesh-order:dev .
#   docker build --build-arg APP=operator --build-arg LIBS=services/mesh \
#     --build-arg RUNTIME_NODE_OPTIONS="--enable-source-maps --max-semi-space-size=4" -t jetmesh-operator:dev .
# SCHEMAS names more directories of JSON Schemas the program reads at run time (the edge
# validates other services' event types: SCHEMAS_edge in mk/kind.mk); each is shipped at
# /app/<dir>.
# Node is pinned by .node-version (`make images` passes it as NODE_VERSION). An image runs as
# UID 10001, writes nothing outside /tmp (read-only root filesystem friendly), and has no
# HEALTHCHECK: Kubernetes probes /healthz and /readyz.
ARG NODE_VERSION=24.21.0

# 0. The workspace manifests npm ci needs (one list for the stages below).
FROM node:${NODE_VERSION}-bookworm-slim AS manifests
WORKDIR /src
COPY package.json package-lock.json tsconfig.base.json ./
COPY testing/package.json testing/
COPY services/mesh/package.json services/mesh/
COPY services/shop/package.json services/shop/
COPY services/shop-tools/package.json services/shop-tools/
COPY services/order/package.json services/order/
COPY services/inventory/package.json services/inventory/
COPY services/payment/package.json services/payment/
COPY services/shipping/package.json services/shipping/
COPY services/edge/package.json services/edge/
COPY services/cli/package.json services/cli/
COPY operator/package.json operator/
COPY bench/package.json bench/

# 1. Compile LIBS then APP to dist/, and collect what runs: dist/ (and schemas/, read at run time).
FROM node:${NODE_VERSION}-bookworm-slim AS build
ARG APP
ARG LIBS=""
ARG SCHEMAS=""
RUN test -n "$APP" || { echo 'set --build-arg APP=<workspace dir> (operator, services/order, ...) and LIBS' >&2; exit 1; }
WORKDIR /src
COPY --from=manifests /src/ ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY services/ services/
COPY operator/ operator/
RUN for dir in $LIBS $APP; do \
      npm run build -w "$dir" || exit 1; \
      mkdir -p "/out/$dir" && cp -r "$dir/dist" "/out/$dir/" || exit 1; \
      if [ -d "$dir/schemas" ]; then cp -r "$dir/schemas" "/out/$dir/"; fi; \
    done \
 && for dir in $SCHEMAS; do \
      ls "$dir"/*.json >/dev/null || exit 1; \
      mkdir -p "/out/$dir" && cp "$dir"/*.json "/out/$dir/" || exit 1; \
    done

# 2. Production dependencies of APP only, and the compiled workspaces.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
ARG APP
WORKDIR /app
COPY --from=manifests /src/ ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts -w "$APP" \
 && npm cache clean --force
COPY --from=build /out/ ./

# 3. Runtime: node + dist/ + production node_modules, nothing else.
FROM node:${NODE_VERSION}-bookworm-slim
ARG APP
ARG RUNTIME_NODE_OPTIONS=--enable-source-maps
ENV NODE_ENV=production \
    NODE_OPTIONS=${RUNTIME_NODE_OPTIONS}
COPY --from=deps /app /app
WORKDIR /app/${APP}
USER 10001:10001
EXPOSE 8080
CMD ["node", "dist/main.js"]
