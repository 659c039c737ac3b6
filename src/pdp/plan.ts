import { rulesToCondition } from '@casl/ability/extra';
import { type EngineAbility, rulesForEveryValue } from './abilities.ts';
import type { PlanCondition, QueryPlan } from './types.ts';

const ALWAYS = Symbol('always');
type Node = PlanCondition | typeof ALWAYS;

const and = (conditions: Node[]): Node =>
  conditions.length === 1 ? conditions[0]! : { $and: conditions as PlanCondition[] };
const or = (conditions: Node[]): Node =>
  conditions.length === 1 ? conditions[0]! : { $or: conditions as PlanCondition[] };

/**
 * Which resources of a type the subject may `action`: CASL's `rulesToCondition` (the successor
 * of `rulesToQuery` in @casl/ability 7) over the same abilities `decide` uses, with denies
 * first so that each allow is bounded by every deny — the condition holds for exactly the
 * resources `decide` allows (without a field; a deny restricted to fields does not hide rows).
 * Deny rules become `$nor: [conditions]`.
 */
export function planFor(abilities: readonly EngineAbility[], action: string): QueryPlan {
  const rules = abilities.flatMap((ability) => rulesForEveryValue(ability, action));
  // rulesToCondition expects highest priority first; every deny outranks every allow.
  const ordered = [...rules.filter((rule) => rule.inverted), ...rules.filter((rule) => !rule.inverted)];
  // The one cast left here: @casl/ability types rulesToCondition's rules as `Rule` instances
  // (matchers, origin, priority), but it reads only `inverted` and `conditions`, which these
  // raw rules carry; building Rule objects only to satisfy the type would cost every plan.
  const result = rulesToCondition<EngineAbility, Node, Node>(
    ordered as never,
    (rule) =>
      rule.inverted ? { $nor: [rule.conditions as PlanCondition] } : (rule.conditions as PlanCondition),
    { and, or, empty: () => ALWAYS },
  );
  if (result === null) return { kind: 'never' };
  if (result === ALWAYS) return { kind: 'always' };
  return { kind: 'conditional', condition: result };
}
