/**
 * The shapes of `POST /decide` and `POST /decide/plan` as a service sees them (the contract in
 * src/http/openapi.yaml). Declared here, not imported from the server, so the compiled client
 * and its declarations stand alone.
 */
import type { TollgateUnavailableError } from './errors.ts';

/** The subject as the caller knows it: an access token it received, or an explicit identity. */
export type SubjectInput =
  | {
      /** The end user's (or a client's) access token issued by this Tollgate. */
      token: string;
      /** The API(s) the service protects: a token for any other is `subject_token_invalid`. */
      audience?: string | string[];
    }
  | { id: string; roles?: string[]; attrs?: Record<string, unknown> };

export interface ResourceInput {
  /** A resource type with a policy, e.g. `Invoice`. */
  type: string;
  id?: string;
  /** What the rules' `when` conditions look at (owner, tenant, status…). */
  attrs?: Record<string, unknown>;
}

/** One question: may the subject do `action` on `resource` (optionally on one `field`)? */
export interface CheckInput {
  action: string;
  resource: ResourceInput;
  field?: string;
}

export interface DecisionRequest extends CheckInput {
  subject: SubjectInput;
  context?: Record<string, unknown>;
}

export interface BatchRequest {
  subject: SubjectInput;
  checks: CheckInput[];
  context?: Record<string, unknown>;
}

/** Tollgate's answer (HTTP 200 whatever the decision). */
export interface Decision {
  allow: boolean;
  /** The deciding rule's reason, `allowed`/`denied`, `no_matching_rule` or `subject_token_invalid`. */
  reason: string;
  /** Why a subject token was refused: `expired`, `signature`, `audience`, `revoked`… */
  detail?: string;
  /** The deciding rule's id, or null under default deny. */
  rule: string | null;
  policy: { resource: string; version: number };
}

/**
 * The client's own denial when Tollgate could not answer (fail-closed): nothing was evaluated,
 * so there is no rule and no policy version.
 */
export interface UnavailableDecision {
  allow: false;
  reason: 'tollgate_unavailable';
  detail: TollgateUnavailableError['code'];
  rule: null;
  policy: null;
}

export type CheckResult = Decision | UnavailableDecision;

/** Which resources of a type a subject may access: always, never, or a condition tree. */
export type QueryPlan =
  | { kind: 'always' }
  | { kind: 'never' }
  | { kind: 'conditional'; condition: PlanCondition };

/** A MongoDB-style condition tree over resource attributes (as CASL's rulesToQuery returns). */
export type PlanCondition = Record<string, unknown>;

export interface PlanRequest {
  subject: SubjectInput;
  action: string;
  resource: { type: string };
  context?: Record<string, unknown>;
}

export interface PlanAnswer {
  plan: QueryPlan;
  /** Null only when Tollgate could not answer (then the plan is `never`). */
  policy: { resource: string; version: number } | null;
  reason?: string;
  detail?: string;
}
