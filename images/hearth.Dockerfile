# syntax=docker/dockerfile:1
# The Node.js components of Hearth, from one build: the gateway, the
# controller and the agent (the Runtime API sidecar of every function pod).
# Build from the repository root, one target per image:
#   docker build -f images/hearth.Dockerfile --target gateway    -t ghcr.io/hearth-dev/gateway:0.1.0 .
#   docker build -f images/hearth.Dockerfile --target controller -t ghcr.io/hearth-dev/controller:0.1.0 .
#   docker build -f images/hearth.Dockerfile --target agent      -t ghcr.io/hearth-dev/agent:0.1.0 .
# (`make images` builds them all.) Each final image holds dist/, the
# production node_modules and package.json on node:20-slim, and runs as the
# non-root user 10001. The entry point is `node /app/dist/cli/main.js` with
# the subcommand as CMD, so a pod's `args` (the chart's, the controller's
# agent sidecar) replace CMD and name the subcommand first.
ARG NODE_IMAGE=node:20-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NODE_ENV=development npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The console (a Vite build into dist/console) is served by the gateway at /console.
COPY console ./console
RUN npm run build \
    && npm prune --omit=dev --ignore-scripts \
    && rm -rf node_modules/.cache

FROM ${NODE_IMAGE} AS base
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=0:0 /app/package.json ./package.json
COPY --from=build --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
USER 10001:10001

FROM base AS agent
EXPOSE 9000
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["agent"]

FROM base AS controller
EXPOSE 9464
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["controller"]

FROM base AS gateway
EXPOSE 8080
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["gateway"]
