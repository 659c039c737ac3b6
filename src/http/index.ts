export { type AppDeps, buildApp } from './app.ts';
export { createMetrics, type Metrics } from './metrics.ts';
