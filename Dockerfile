# syntax=docker/dockerfile:1.7
# One image for the four Sluice services; the command picks which one runs:
#   docker build -t sluice .
#   docker run sluice ingest      (or features, learner, fraud; `cli ...` runs the command-line tool)
# Configuration comes from the environment (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, ...).

FROM node:20-bookworm AS build
WORKDIR /app
# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY services/ingest/package.json services/ingest/
COPY services/features/package.json services/features/
COPY services/learner/package.json services/learner/
COPY services/fraud/package.json services/fraud/
COPY tools/cli/package.json tools/cli/
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY shared shared
COPY services services
COPY tools tools
RUN npx tsc -b \
 && npm prune --omit=dev --no-audit --no-fund \
 && find . -name '*.tsbuildinfo' -not -path './node_modules/*' -delete

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root: the service user can read its code but not change it.
COPY --from=build /app /app

COPY --chmod=0755 <<'SCRIPT' /usr/local/bin/sluice
#!/bin/sh
# Runs one Sluice service, named by the first argument, from the working directory.
set -eu
name=${1:-}
case "$name" in
  cli)
    shift
    exec node tools/cli/dist/main.js "$@"
    ;;
  "" | -* | */* | .*) ;;
  *)
    if [ -f "services/$name/dist/main.js" ]; then
      shift
      exec node "services/$name/dist/main.js" "$@"
    fi
    ;;
esac
echo "sluice: no service named '$name': give one of $(ls services | tr '\n' ' ')or cli" >&2
exit 64
SCRIPT

COPY <<'HEALTHCHECK' /usr/local/lib/sluice/healthcheck.cjs
// Docker health check: GET /healthz on METRICS_PORT. Unset, the service runs on its
// own default port, one of 9401-9404; a container runs one service, so at most one answers.
const http = require('node:http');

const ports = process.env.METRICS_PORT ? [process.env.METRICS_PORT] : ['9401', '9402', '9403', '9404'];

function healthy(port) {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 3000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

Promise.all(ports.map(healthy)).then((answers) => process.exit(answers.includes(true) ? 0 : 1));
HEALTHCHECK

# The image's `node` user, by number: Kubernetes' runAsNonRoot can only verify a numeric user.
USER 1000:1000
EXPOSE 8080 9401 9402 9403 9404
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/usr/local/lib/sluice/healthcheck.cjs"]
ENTRYPOINT ["sluice"]
CMD ["ingest"]
