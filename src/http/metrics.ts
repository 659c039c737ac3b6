import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AuditLogMetrics } from '../audit/index.ts';

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
    auditQueueDepth: new Gauge({
      name: 'tollgate_audit_queue_depth',
      help: 'Audit events waiting to be written.',
      registers: [registry],
    }),
    auditDropped: new Counter({
      name: 'tollgate_audit_dropped_total',
      help: 'Audit events not kept because the buffer was full (their count is itself audited).',
      registers: [registry],
    }),
    auditWritten: new Counter({
      name: 'tollgate_audit_events_written_total',
      help: 'Audit events appended to the hash chain.',
      registers: [registry],
    }),
    auditWriteSeconds: new Histogram({
      name: 'tollgate_audit_write_duration_seconds',
      help: 'Time to append one batch of audit events (lock, read the last link, insert).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    auditWriteFailures: new Counter({
      name: 'tollgate_audit_write_failures_total',
      help: 'Failed attempts to append a batch (the events stay buffered and are retried).',
      registers: [registry],
    }),
  };
}

/** The audit writer's hooks onto the registry. */
export function auditMetrics(metrics: Metrics): AuditLogMetrics {
  return {
    depth: (value) => metrics.auditQueueDepth.set(value),
    dropped: (count) => metrics.auditDropped.inc(count),
    written: (count, seconds) => {
      metrics.auditWritten.inc(count);
      metrics.auditWriteSeconds.observe(seconds);
    },
    failed: () => metrics.auditWriteFailures.inc(),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
