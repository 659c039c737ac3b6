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

/**
 * How one check was decided, rule by rule (`POST /decide` with `explain`, `tollgate decide
 * explain`). Computed beside the decision, never instead of it.
 */
export interface Explanation {
  /** A matching deny wins; else the first matching allow; else no_matching_rule. */
  strategy: 'deny-overrides';
  /** The subject's roles that some rule of the resource type names (no other role can matter). */
  roles: string[];
  /** The rules the evaluation considered, in its order: denies first, then allows, each as declared. */
  rules: RuleTrace[];
  /** Rules of the resource type for roles the subject does not hold: never considered. */
  not_considered: { rule: string; roles: string[] }[];
  /** Set when nothing was evaluated (a refused subject token). */
  because?: string;
}

export interface RuleTrace {
  rule: string;
  effect: 'allow' | 'deny';
  /** not_applicable: the action or field rules the rule out before any condition is looked at. */
  outcome: 'matched' | 'not_matched' | 'not_applicable';
  /** On the one rule that decided. */
  decisive?: true;
  /** In words, when the outcome is not simply its conditions' result. */
  because?: string;
  conditions?: ConditionTrace;
}

/** A rule's `when`, as evaluated: `holds` is true, false or null (indeterminate). */
export type ConditionTrace =
  | { operator: '$and' | '$or' | '$nor'; holds: boolean | null; of: ConditionTrace[] }
  | {
      attribute: string;
      operator: string;
      /** The operand, placeholders resolved (null where the placeholder had no value). */
      expected: unknown;
      /** The placeholder the operand came from, e.g. `${subject.attrs.tenant}`. */
      placeholder?: string;
      /** The resource's value; absent: the resource has no such attribute. */
      actual?: unknown;
      absent?: true;
      holds: boolean | null;
    };
