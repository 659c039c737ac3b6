/**
 * The decision point's vocabulary. Pure data: no HTTP, no SQL. The policy format itself is
 * described in the README ("Policies") and in policies/schema.json.
 */

/** A YAML file of a policy set, as read from POLICY_DIR or sent to the admin API. */
export interface PolicyFile {
  /** File name relative to the policy directory, e.g. `invoice.yaml` or `invoice.test.yaml`. */
  name: string;
  content: string;
}

/** One problem in a policy set; all of them are reported at once, sorted by file then rule. */
export interface PolicyProblem {
  file: string;
  /** Rule id (or `<resource>#<index>`) when the problem is inside a rule. */
  rule?: string;
  /** Dotted path of the offending field, e.g. `rules.2.when.amount.$gtt`. */
  field?: string;
  /** 1-based line in the file, when the problem can be located. */
  line?: number;
  message: string;
}

export interface Subject {
  id: string;
  roles: string[];
  attrs: Record<string, unknown>;
}

export interface ResourceRef {
  type: string;
  id?: string;
  attrs?: Record<string, unknown>;
}

export interface Check {
  action: string;
  resource: ResourceRef;
  /** Optional field (CASL field-level rules), e.g. `amount`. */
  field?: string;
}

export interface DecisionRequest extends Check {
  subject: Subject;
  context?: Record<string, unknown>;
}

export interface Decision {
  allow: boolean;
  /** The deciding rule's `reason`, `allowed`/`denied` when it has none, or `no_matching_rule`. */
  reason: string;
  /** Id of the deciding rule, or null under default deny. */
  rule: string | null;
  policy: { resource: string; version: number };
}

/** Which resources of a type a subject may access: always, never, or a condition tree. */
export type QueryPlan =
  | { kind: 'always' }
  | { kind: 'never' }
  | { kind: 'conditional'; condition: PlanCondition };

/** A MongoDB-style condition tree over resource attributes (as CASL's rulesToQuery returns). */
export type PlanCondition = Record<string, unknown>;

/** A gateway route of a policy (`GET /invoices/:id` → action and resource). */
export interface PolicyRoute {
  method: string;
  /** Path pattern with `:param` segments. */
  path: string;
  action: string;
  resource: { type: string; id?: string; attrs?: Record<string, string> };
  /** Literal segments match whatever their case; without it, `/Admin` is not `/admin`. */
  ignoreCase?: boolean;
}

export interface PolicyTestCase {
  file: string;
  name: string;
  request: DecisionRequest;
  expect: 'allow' | 'deny';
  reason?: string;
}

export interface PolicyTestResult {
  case: PolicyTestCase;
  passed: boolean;
  actual: Decision;
}
