export { type AppDeps, buildApp } from './app.ts';
export { createCallerLimit } from './limits.ts';
export { createMetrics, type Metrics } from './metrics.ts';
export { createHttpServer, MAX_HEADER_BYTES } from './server.ts';
