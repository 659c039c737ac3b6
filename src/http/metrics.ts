import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { type AuditEvent, type AuditLogMetrics, type AuditSink, recordDecisionCall } from '../audit/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import type { DecisionMetrics } from '../decide/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';

/** Which limit refused a request (the `limit` label of tollgate_rate_limited_total). */
export type LimitName = 'token' | 'decide' | 'client_auth' | 'login';

/** Prometheus metrics of one instance (a registry each, so tests can run several). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tollgate_' });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'tollgate_http_requests_total',
      help: 'HTTP requests by endpoint, method and status.',
      labelNames: ['endpoint', 'method', 'status'] as const,
      registers,
    }),
    httpSeconds: new Histogram({
      name: 'tollgate_http_request_duration_seconds',
      help: 'Time from request to the last byte of the answer, by endpoint.',
      labelNames: ['endpoint'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    decisionSeconds: new Histogram({
      name: 'tollgate_decision_duration_seconds',
      help: 'Server-side time to evaluate one check, policy lookup to answer (excludes HTTP and token verification).',
      labelNames: ['resource'] as const,
      // 1 µs … 10 ms: a cached decision takes a few microseconds, and p99 must stay ≤ 200 µs.
      buckets: [
        0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.01,
      ],
      registers,
    }),
    decisions: new Counter({
      name: 'tollgate_decisions_total',
      help: 'Decisions by result, resource type and caller (client id, or gateway:<name> for forward-auth).',
      labelNames: ['result', 'resource', 'caller'] as const,
      registers,
    }),
    tokensIssued: new Counter({
      name: 'tollgate_tokens_issued_total',
      help: 'Token responses by grant type and client.',
      labelNames: ['grant_type', 'client'] as const,
      registers,
    }),
    tokensRefused: new Counter({
      name: 'tollgate_token_requests_refused_total',
      help: 'Refused token requests by grant type and OAuth error.',
      labelNames: ['grant_type', 'error'] as const,
      registers,
    }),
    loginFailures: new Counter({
      name: 'tollgate_login_failures_total',
      help: 'Failed sign-ins (wrong username or password, disabled user).',
      registers,
    }),
    loginLockouts: new Counter({
      name: 'tollgate_login_lockouts_total',
      help: 'Sign-ins refused because the username or address is locked out.',
      registers,
    }),
    clientAuthAttacks: new Counter({
      name: 'tollgate_client_auth_attacks_total',
      help: 'Clients whose secret was guessed at from many addresses within one window (CLIENT_AUTH_ATTACK_ADDRESSES), once per window; see the client_auth.attack audit events.',
      labelNames: ['client'] as const,
      registers,
    }),
    rateLimited: new Counter({
      name: 'tollgate_rate_limited_total',
      help: 'Requests refused with 429 by a rate limit.',
      labelNames: ['limit'] as const,
      registers,
    }),
    auditQueueDepth: new Gauge({
      name: 'tollgate_audit_queue_depth',
      help: 'Audit events waiting to be written.',
      registers,
    }),
    auditDropped: new Counter({
      name: 'tollgate_audit_dropped_total',
      help: 'Audit events not kept because the buffer was full (their count is itself audited).',
      registers,
    }),
    auditWritten: new Counter({
      name: 'tollgate_audit_events_written_total',
      help: 'Audit events appended to the hash chain.',
      registers,
    }),
    auditWriteSeconds: new Histogram({
      name: 'tollgate_audit_write_duration_seconds',
      help: 'Time to append one batch of audit events (lock, read the last link, insert).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    auditWriteFailures: new Counter({
      name: 'tollgate_audit_write_failures_total',
      help: 'Failed attempts to append a batch (the events stay buffered and are retried).',
      registers,
    }),
    auditTampering: new Counter({
      name: 'tollgate_audit_tampering_total',
      help: 'Times this instance found the audit table behind what it wrote, or its newest row without a valid MAC.',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Gauges read when Prometheus scrapes: database pool usage and signing-key age. */
export function watchResources(metrics: Metrics, db: DatabaseHandle, ring: SigningKeyRing): void {
  const registers = [metrics.registry];
  new Gauge({
    name: 'tollgate_db_pool_connections',
    help: 'PostgreSQL pool connections by state (total, idle, waiting clients, max); absent on the embedded database.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const stats = db.poolStats();
      if (!stats) return;
      for (const [state, value] of Object.entries(stats)) this.set({ state }, value);
    },
  });
  new Gauge({
    name: 'tollgate_signing_key_age_seconds',
    help: 'Age of the active signing key per algorithm, since it started signing.',
    labelNames: ['alg'] as const,
    registers,
    collect() {
      this.reset();
      const now = Date.now();
      for (const key of ring.list().filter((k) => k.state === 'active'))
        this.set({ alg: key.alg }, (now - key.activatesAt.getTime()) / 1000);
    },
  });
}

/** The decision engine's report of each decision, as tollgate_decision_duration_seconds and tollgate_decisions_total. */
export function decisionMetrics(metrics: Metrics): DecisionMetrics {
  return {
    decided(resource, caller, allow, seconds) {
      metrics.decisionSeconds.observe({ resource }, seconds);
      metrics.decisions.inc({ result: allow ? 'allow' : 'deny', resource, caller });
    },
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

/**
 * Counts what the audit events say happened (tokens issued and refused, failed sign-ins,
 * lockouts) and passes every event on: one stream feeds both the evidence and the metrics.
 */
export function meteredAudit(audit: AuditSink, metrics: Metrics): AuditSink {
  const text = (value: unknown) => (typeof value === 'string' ? value : 'unknown');
  return {
    record(event: AuditEvent) {
      const data = event.data ?? {};
      if (event.type === 'token.issued')
        metrics.tokensIssued.inc({ grant_type: text(data.grant_type), client: text(event.clientId) });
      else if (event.type === 'token.refused')
        metrics.tokensRefused.inc({ grant_type: text(data.grant_type), error: text(data.error) });
      else if (event.type === 'login.failed') metrics.loginFailures.inc();
      else if (event.type === 'login.locked') {
        metrics.loginLockouts.inc();
        metrics.rateLimited.inc({ limit: 'login' });
      }
      audit.record(event);
    },
    // Decisions are counted where they are made (decisionMetrics), not here.
    recordDecisions: (call) => recordDecisionCall(audit, call),
    backpressure: () => audit.backpressure?.(),
  };
}

// Endpoints as labels: a fixed set, so a client inventing paths cannot grow the series count.
const EXACT = new Set([
  '/decide',
  '/decide/plan',
  '/decide/forward/nginx',
  '/decide/forward/traefik',
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/jwks',
  '/me',
  '/auth',
  '/session/end',
  '/.well-known/openid-configuration',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.yaml',
]);

export function endpointOf(url: string | undefined): string {
  const path = (url ?? '').split('?', 1)[0] ?? '';
  if (EXACT.has(path)) return path;
  if (path.startsWith('/decide/forward/envoy')) return '/decide/forward/envoy';
  if (path.startsWith('/interaction/')) return '/interaction';
  if (path.startsWith('/auth/')) return '/auth';
  const admin = /^\/admin\/([a-z]+)/.exec(path);
  if (admin) return `/admin/${admin[1]}`;
  return 'other';
}

/** Counts and times one answer by endpoint (tollgate_http_requests_total and _duration_seconds). */
export type HttpObserver = (
  endpoint: string,
  method: string | undefined,
  status: number,
  seconds: number,
) => void;

export function httpObserver(metrics: Metrics): HttpObserver {
  return (endpoint, method, status, seconds) => {
    metrics.httpRequests.inc({ endpoint, method: method ?? 'OTHER', status: String(status) });
    metrics.httpSeconds.observe({ endpoint }, seconds);
  };
}

/**
 * Wraps the Koa listener: every answer is counted and timed by endpoint once it is finished.
 * The node:http fast path reports its own answers to the same observer when it sends them, as
 * it knows the endpoint and the status then (no listener per request on its hot path).
 */
export function instrument(observe: HttpObserver, listener: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    res.once('finish', () => {
      observe(endpointOf(req.url), req.method, res.statusCode, (performance.now() - started) / 1000);
    });
    listener(req, res);
  };
}
