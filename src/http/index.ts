export { type AppDeps, buildApp } from './app.ts';
export { createCallerLimit } from './limits.ts';
export { auditMetrics, createMetrics, type Metrics } from './metrics.ts';
export { createHttpServer, MAX_HEADER_BYTES } from './server.ts';
