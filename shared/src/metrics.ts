import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';

export { Registry };

export interface HealthChecks {
  /** Alive: the process is running its loop. Failing it asks the orchestrator for a restart. */
  healthy(): boolean;
  /** Ready: assigned its partitions, state restored, caught up. */
  ready(): { ready: boolean; reason: string };
}

/** A registry for one service, with Node's default metrics under the sluice_ prefix and a service label. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  // prom-client exposes these gauges with a counter's _total suffix; the same values remain as sluice_nodejs_active_{handles,requests,resources}.
  for (const name of ['sluice_nodejs_active_handles_total', 'sluice_nodejs_active_requests_total', 'sluice_nodejs_active_resources_total']) registry.removeSingleMetric(name);
  return registry;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves /metrics (Prometheus text), /healthz and /readyz. Port 0 picks a free port. */
export async function startMetricsServer(
  registry: Registry,
  health: HealthChecks,
  options: { port: number; host?: string },
): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          response.writeHead(200, { 'content-type': registry.contentType });
          response.end(text);
        })
        .catch((error: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(String(error));
        });
      return;
    }
    if (path === '/healthz') {
      const healthy = health.healthy();
      response.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' });
      response.end(healthy ? 'ok\n' : 'unhealthy\n');
      return;
    }
    if (path === '/readyz') {
      const { ready, reason } = health.ready();
      response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
      response.end(`${reason}\n`);
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end('not found: try /metrics, /healthz or /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
