import { createServer, type Server } from 'node:http';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** The one route of the metrics port. */
export const METRICS_SERVER_ROUTE = { method: 'GET', path: '/metrics' } as const;

/**
 * GET /metrics on a port of its own (METRICS_PORT), unauthenticated: for a network only
 * Prometheus reaches. Anything else is 404. `produce` renders the exposition text.
 */
export async function startMetricsServer(
  port: number,
  host: string | undefined,
  produce: () => Promise<{ contentType: string; body: string }>,
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== METRICS_SERVER_ROUTE.method || req.url !== METRICS_SERVER_ROUTE.path) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          error: 'not_found',
          error_description: 'only GET /metrics is served on this port',
        }),
      );
      return;
    }
    produce().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      () =>
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(
            JSON.stringify({ error: 'server_error', error_description: 'metrics could not be collected' }),
          ),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** One registry's metrics. */
export const registryMetrics = (registry: Registry) => async () => ({
  contentType: registry.contentType,
  body: await registry.metrics(),
});

/**
 * With WORKERS > 1 the primary serves METRICS_PORT with every worker's metrics summed (prom-client
 * asks each worker over IPC), so a scrape sees the whole instance, not one worker at random.
 */
export function clusterMetrics() {
  const aggregator = new AggregatorRegistry();
  return async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() });
}

/** In a worker: lets the primary's AggregatorRegistry collect this registry. */
export function shareWithPrimary(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
}
