import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one instance (a registry each, so tests can run several). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_' });
  return {
    registry,
    decisionSeconds: new Histogram({
      name: 'tollgate_decision_duration_seconds',
      help: 'Server-side time to evaluate one check, policy lookup to answer (excludes HTTP and token verification).',
      labelNames: ['resource'] as const,
      // 1 µs … 10 ms: a cached decision takes a few microseconds, and p99 must stay ≤ 200 µs.
      buckets: [
        0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.01,
      ],
      registers: [registry],
    }),
    decisions: new Counter({
      name: 'tollgate_decisions_total',
      help: 'Decisions by result and resource type.',
      labelNames: ['result', 'resource'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
