# nocturne: the control service, and the device simulators of the demo (same image, another command).
# Node 24, the LTS municipalities deploy on. Build: docker compose build (or docker build -t nocturne .).

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY core ./core
COPY controller ./controller
COPY drivers ./drivers
COPY config ./config
COPY simulators ./simulators
RUN npx tsc -p tsconfig.json

FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config/demo.yaml config/nocturne.schema.json ./config/
COPY deploy/nocturne/healthcheck.js ./deploy/nocturne/healthcheck.js
# Persisted relights, overrides, audit log and telemetry spool: a volume in docker-compose.yml.
RUN mkdir -p /var/lib/nocturne && chown node:node /var/lib/nocturne
USER node
EXPOSE 8080
CMD ["node", "bin/nocturne.js", "start", "/etc/nocturne/site.yaml"]
