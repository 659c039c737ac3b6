export { type AppDeps, type AppOwnDeps, buildApp } from './app.ts';
export { createCallerLimit } from './limits.ts';
export {
  auditMetrics,
  createMetrics,
  decisionMetrics,
  type LimitName,
  type Metrics,
  meteredAudit,
  watchResources,
} from './metrics.ts';
export { clusterMetrics, registryMetrics, shareWithPrimary, startMetricsServer } from './metrics-server.ts';
export { createHttpServer, type Listening, listen, MAX_HEADER_BYTES } from './server.ts';
export { superviseWorkers } from './workers.ts';
