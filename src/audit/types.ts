/** What the audit log records: the README's "Audit log" table and docs/architecture.md 3.6. */
export type AuditEventType =
  | 'token.issued'
  | 'token.refused'
  | 'token.revoked'
  | 'grant.revoked'
  | 'login.succeeded'
  | 'login.failed'
  | 'login.locked'
  | 'client_auth.locked'
  | 'client_auth.attack'
  | 'admin.change'
  | 'policy.pushed'
  | 'key.rotated'
  | 'decision'
  | 'audit.dropped';

export interface AuditEvent {
  type: AuditEventType;
  /** Who acted: a client id (admin API, token requests) or a username. */
  actor?: string | undefined;
  /** Whom it concerns: a user id, a client id for machine tokens, a username on failed logins. */
  subject?: string | undefined;
  clientId?: string | undefined;
  ip?: string | undefined;
  /** Type-specific details; never secrets (no passwords, client secrets, tokens). */
  data?: Record<string, unknown>;
}

/**
 * The decisions of one call to the decision point (one /decide request, one forward-auth
 * check), as the decision log records them: what they share once, then check by check. Each
 * decision is logged as a `decision` event (decision-rows.ts: decisionEvents).
 */
export interface DecisionCall {
  caller: string | undefined;
  subject: string | undefined;
  /** The policy version that decided them all. */
  version: number;
  /** Each check; its resource attributes and field are recorded only with `inputs`. */
  checks: readonly {
    action: string;
    resource: { type: string; id?: string | undefined; attrs?: unknown };
    field?: string | undefined;
  }[];
  answers: readonly { allow: boolean; reason: string; rule: string | null; detail?: string | undefined }[];
  /** Each check's evaluation time, µs to a tenth. */
  latencies: readonly number[];
  /**
   * What the checks were decided on besides each check's resource and field, when the decision
   * log records inputs (DECISION_LOG_INPUTS; decision-inputs.ts); absent for a refused subject.
   */
  inputs?: CallInputs | undefined;
}

/** A call's shared inputs: the subject's roles and attributes, and the request context. */
export interface CallInputs {
  /** `hashed`: every value is a digest (input-hash.ts) under the key `key` names. */
  mode: 'full' | 'hashed';
  key?: string | undefined;
  roles: readonly string[];
  attrs: unknown;
  context: unknown;
}

/** Where components send audit events; writing is the sink's business (batched, off the hot path). */
export interface AuditSink {
  record(event: AuditEvent): void;
  /**
   * A call's decisions at once: what a decision log at request rate uses, so that the request
   * thread hands them over in one go (flat, handoff.ts) instead of as an event object each. A
   * sink without it gets each decision through `record` (recordDecisionCall).
   */
  recordDecisions?(call: DecisionCall): void;
  /**
   * Undefined while the writer keeps up; otherwise a promise that settles once its backlog has
   * come down (or after a short wait). Callers that produce events at request rate (decisions)
   * await it before answering, so sustained load slows answers instead of overflowing the
   * buffer: evidence before speed. Never pending while writing fails (the database is away).
   */
  backpressure?(): Promise<void> | undefined;
}
