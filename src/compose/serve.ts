import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/index.ts';
import {
  type AppDeps,
  buildApp,
  type Listening,
  listen,
  type Metrics,
  registryMetrics,
  shareWithPrimary,
  startMetricsServer,
} from '../http/index.ts';
import type { Lifecycle } from './lifecycle.ts';

/**
 * With METRICS_PORT, a single process serves /metrics there; cluster workers hand theirs to the
 * primary. Returns the URL served, if any.
 */
export async function serveMetrics(
  metrics: Metrics,
  config: Pick<Config, 'metricsPort'>,
  host: string | undefined,
  lifecycle: Lifecycle,
): Promise<string | undefined> {
  if (config.metricsPort === undefined) return undefined;
  if (cluster.isWorker) {
    shareWithPrimary(metrics.registry);
    return undefined;
  }
  const server: Server = await startMetricsServer(
    config.metricsPort,
    host,
    registryMetrics(metrics.registry),
  );
  lifecycle.started(server, 'metrics server', () => {
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return `http://${host ?? 'localhost'}:${port}/metrics`;
}

/**
 * The HTTP surface, listening. Stopping it drains first: still serving, but answers say
 * `Connection: close` and /readyz 503, so balancers move away before the socket closes.
 */
export async function serveHttp(
  deps: Omit<AppDeps, 'accepting'>,
  config: Pick<Config, 'port' | 'shutdownDrainMs'>,
  host: string | undefined,
  lifecycle: Lifecycle,
): Promise<Listening> {
  let accepting = true;
  const { listener } = buildApp({ ...deps, accepting: () => accepting });
  const http = await listen(listener, deps.logger, {
    port: config.port,
    host,
    drainMs: config.shutdownDrainMs,
  });
  return lifecycle.started(http, 'http server', async () => {
    accepting = false;
    const open = http.connections();
    await http.drain();
    const left = http.connections();
    await http.close();
    deps.logger.info(
      { connections: open, drained: open - left, closed_after_drain: left },
      'http server stopped: connections drained',
    );
  });
}
