import { fieldPatternMatcher } from '@casl/ability';
import type { Scalar } from './attribute-path.ts';
import type { ConditionTemplate, TemplateValue } from './conditions.ts';
import { LEAVES, type Tri } from './matcher.ts';
import { ANY, type CompiledRule } from './model.ts';
import { Placeholder } from './placeholders.ts';
import type { ResourceRules } from './resource-rules.ts';
import { ResourceView } from './resource-view.ts';
import type { ConditionTrace, DecisionRequest, Explanation, RuleTrace } from './types.ts';

/**
 * Why a check was decided as it was, rule by rule (docs/architecture.md 3.3): which rules the
 * subject's roles bring in, in the order the evaluation tries them (every deny, then every
 * allow, each as declared), whether the action and field let each apply, and every condition
 * with its operand (placeholders resolved) and the resource's value.
 *
 * It runs beside `CompiledPolicySet.decide`, never instead of it, and only when asked: the
 * decision's hot path stays compiled closures. The two must agree, so the conditions are judged
 * by the matcher's own operators (LEAVES) under the same rules for indeterminate results and
 * missing placeholder values (abilities.ts), and test/pdp/explain.test.ts holds the decisive
 * rule here to the decision's rule over every demo policy test.
 */
export function explainDecision(rules: ResourceRules, request: DecisionRequest): Explanation {
  const roles = rules.relevantRoles(request.subject.roles);
  const considered = rules.rulesFor(roles);
  const chosen = new Set(considered);
  const inOrder = [
    ...considered.filter((rule) => rule.effect === 'deny'),
    ...considered.filter((rule) => rule.effect === 'allow'),
  ];
  const view = new ResourceView(request.resource);
  const field = typeof request.field === 'string' ? request.field : undefined;
  const traces = inOrder.map((rule) => traceRule(rule, request, view, field));
  const decisive = traces.find((trace) => trace.outcome === 'matched');
  if (decisive) decisive.decisive = true;
  return {
    strategy: 'deny-overrides',
    roles,
    rules: traces,
    not_considered: rules.all
      .filter((rule) => !chosen.has(rule))
      .map((rule) => ({ rule: rule.id, roles: [...rule.roles] })),
  };
}

function traceRule(
  rule: CompiledRule,
  request: DecisionRequest,
  view: ResourceView,
  field: string | undefined,
): RuleTrace {
  const trace: RuleTrace = { rule: rule.id, effect: rule.effect, outcome: 'not_applicable' };
  if (!rule.actions.includes(request.action) && !rule.actions.includes(ANY)) {
    trace.because = `action ${request.action} is not one of ${rule.actions.join(', ')}`;
    return trace;
  }
  const fieldProblem = fieldMismatch(rule, field);
  if (fieldProblem) {
    trace.because = fieldProblem;
    return trace;
  }
  if (!rule.when) {
    trace.outcome = 'matched';
    return trace;
  }
  const values = new Map<string, Scalar | undefined>();
  for (const placeholder of rule.placeholders)
    values.set(placeholder.text, placeholder.resolve(request.subject, request.context));
  const missing = [...values].filter(([, value]) => value === undefined).map(([text]) => text);
  const conditions = traceDocument(rule.when, { view, values });
  trace.conditions = conditions;
  const deny = rule.effect === 'deny';
  if (missing.length > 0) {
    // abilities.ts: such an allow is left out (it cannot grant), such a deny applies unconditionally.
    trace.outcome = deny ? 'matched' : 'not_matched';
    trace.because = `${missing.join(', ')} has no value for this request, so the ${
      deny ? 'deny applies without its conditions (it fails closed)' : 'rule cannot grant'
    }`;
    return trace;
  }
  // matcher.ts: indeterminate counts as no match for an allow and as a match for a deny.
  const holds = conditions.holds;
  trace.outcome = (deny ? holds !== false : holds === true) ? 'matched' : 'not_matched';
  if (holds === null)
    trace.because = `the conditions are indeterminate (a value of the wrong kind), which counts as ${
      deny ? 'a match for a deny' : 'no match for an allow'
    }`;
  return trace;
}

/** CASL's field semantics (Rule.matchesField), in words when the rule does not apply. */
function fieldMismatch(rule: CompiledRule, field: string | undefined): string | undefined {
  if (!rule.fields) return undefined;
  if (field === undefined)
    return rule.effect === 'deny'
      ? `a deny restricted to fields (${rule.fields.join(', ')}) applies only when a field is asked`
      : undefined;
  return fieldPatternMatcher([...rule.fields])(field)
    ? undefined
    : `field ${field} is not one of ${rule.fields.join(', ')}`;
}

interface Scope {
  view: ResourceView;
  values: ReadonlyMap<string, Scalar | undefined>;
}

const COMPOUND = new Set(['$and', '$or', '$nor']);

function traceDocument(document: ConditionTemplate, scope: Scope): ConditionTrace {
  const parts = Object.keys(document).map((key) => {
    const value = document[key] as TemplateValue;
    if (!COMPOUND.has(key)) return traceField(key, value, scope);
    const of = (value as readonly ConditionTemplate[]).map((item) => traceDocument(item, scope));
    const any = anyHolds(of);
    const holds = key === '$and' ? allHold(of) : key === '$or' ? any : any === null ? null : !any;
    return { operator: key as '$and' | '$or' | '$nor', holds, of };
  });
  return parts.length === 1
    ? (parts[0] as ConditionTrace)
    : { operator: '$and', holds: allHold(parts), of: parts };
}

function traceField(attribute: string, condition: TemplateValue, scope: Scope): ConditionTrace {
  const isOperators =
    condition !== null &&
    typeof condition === 'object' &&
    !Array.isArray(condition) &&
    !(condition instanceof Placeholder);
  if (!isOperators) return traceLeaf(attribute, '$eq', condition, scope);
  const leaves = Object.keys(condition).map((operator) =>
    traceLeaf(attribute, operator, (condition as ConditionTemplate)[operator] as TemplateValue, scope),
  );
  return leaves.length === 1
    ? (leaves[0] as ConditionTrace)
    : { operator: '$and', holds: allHold(leaves), of: leaves };
}

function traceLeaf(
  attribute: string,
  operator: string,
  operand: TemplateValue,
  scope: Scope,
): ConditionTrace {
  const actual = scope.view.read(attribute);
  const { value, placeholder, missing } = resolveOperand(operand, scope.values);
  const leaf = LEAVES[operator.slice(1)];
  const holds: Tri = missing || leaf === undefined ? undefined : leaf(actual, value);
  return {
    attribute,
    operator,
    expected: value,
    ...(placeholder ? { placeholder } : {}),
    ...(actual === undefined ? { absent: true as const } : { actual }),
    holds: holds ?? null,
  };
}

function resolveOperand(
  operand: TemplateValue,
  values: ReadonlyMap<string, Scalar | undefined>,
): { value: unknown; placeholder?: string; missing: boolean } {
  if (operand instanceof Placeholder) {
    const value = values.get(operand.text);
    return { value: value ?? null, placeholder: operand.text, missing: value === undefined };
  }
  if (Array.isArray(operand)) {
    const items = operand.map((item: TemplateValue) => resolveOperand(item, values));
    const placeholders = items.flatMap((item) => (item.placeholder ? [item.placeholder] : []));
    return {
      value: items.map((item) => item.value),
      ...(placeholders.length > 0 ? { placeholder: placeholders.join(', ') } : {}),
      missing: items.some((item) => item.missing),
    };
  }
  return { value: operand, missing: false };
}

/** Kleene AND over traces, as matcher.ts combines `$and`: false wins, then indeterminate. */
function allHold(parts: readonly ConditionTrace[]): boolean | null {
  if (parts.some((part) => part.holds === false)) return false;
  return parts.some((part) => part.holds === null) ? null : true;
}

/** Kleene OR: true wins, then indeterminate. */
function anyHolds(parts: readonly ConditionTrace[]): boolean | null {
  if (parts.some((part) => part.holds === true)) return true;
  return parts.some((part) => part.holds === null) ? null : false;
}
