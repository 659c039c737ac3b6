import { createMongoAbility, type MongoAbility, type RawRuleOf } from '@casl/ability';
import { ANY_VALUE, chooseDiscriminator, requiredValue, subjectTypeOf, valueKey } from './discriminator.ts';
import { instantiate, type PlaceholderValues } from './instantiate.ts';
import { conditionsMatcher, markDenyConditions } from './matcher.ts';
import { ANY, type CompiledRule } from './model.ts';

/** A CASL ability over one resource type, as the engine builds it. */
export type EngineAbility = MongoAbility;
/** A rule of an EngineAbility, as CASL returns it from `relevantRuleFor` and `rulesFor`. */
export type EngineRule = NonNullable<ReturnType<EngineAbility['relevantRuleFor']>>;

type TaggedRawRule = RawRuleOf<EngineAbility> & { [SOURCE]: CompiledRule };
/** A rule as given to CASL (`origin` of CASL's rules). */
export type EngineRawRule = RawRuleOf<EngineAbility>;

const SOURCE = Symbol('tollgate.rule');

// The subject type of every request when an ability has no discriminator: no rule is filed
// under it, so CASL tries exactly the rules filed under "any" — all of them.
const NO_DISCRIMINATOR = ' all';

/** The policy rule a CASL rule was built from. */
export function sourceOf(rule: { origin: unknown }): CompiledRule {
  return (rule.origin as TaggedRawRule)[SOURCE];
}

/**
 * Builds the CASL ability for `rules` (all of one resource type) with placeholders replaced by
 * `values`.
 *
 * Deny-overrides on top of CASL's "last rule wins": denies are placed after every allow, so CASL
 * tries them first and the first matching rule it returns is a deny whenever any deny matches
 * — whatever the order in the policy file. Within each effect the first declared rule is tried
 * first, so it is the one named in the answer.
 *
 * A rule whose placeholder has no scalar value cannot be instantiated: an allow rule is left
 * out (it cannot grant), a deny rule applies without its conditions (it fails closed).
 */
export function buildAbility(rules: readonly CompiledRule[], values: PlaceholderValues): EngineAbility {
  const denies = rules.filter((rule) => rule.effect === 'deny');
  const allows = rules.filter((rule) => rule.effect === 'allow');
  const raw: TaggedRawRule[] = [];
  for (const rule of [...denies, ...allows].reverse()) {
    const inverted = rule.effect === 'deny';
    const tagged = {
      action: [...rule.actions],
      subject: ANY_VALUE,
      inverted,
      [SOURCE]: rule,
    } as TaggedRawRule;
    if (rule.when) {
      const conditions = instantiate(rule.when, values);
      if (conditions === undefined && !inverted) continue;
      if (conditions !== undefined) {
        if (inverted) markDenyConditions(conditions);
        tagged.conditions = conditions;
      }
    }
    if (rule.fields) tagged.fields = [...rule.fields];
    if (rule.reason) tagged.reason = rule.reason;
    raw.push(tagged);
  }
  const allowConditions = raw.filter((rule) => !rule.inverted).map((rule) => rule.conditions);
  const discriminator = chooseDiscriminator(allowConditions);
  if (discriminator !== undefined)
    for (const rule of raw) {
      const value = rule.inverted ? undefined : requiredValue(rule.conditions, discriminator);
      if (value !== undefined) rule.subject = valueKey(value);
    }
  return createMongoAbility(raw, {
    conditionsMatcher,
    anyAction: ANY,
    anySubjectType: ANY_VALUE,
    detectSubjectType: discriminator === undefined ? () => NO_DISCRIMINATOR : subjectTypeOf(discriminator),
  });
}

/**
 * The rules of `ability` that `rulesFor(action)` would give without a discriminator: every
 * rule for the action, highest priority first, denies restricted to fields left out (they do
 * not apply when no field is asked). For query plans, which cover every value.
 */
export function rulesForEveryValue(ability: EngineAbility, action: string): EngineRawRule[] {
  const rules = ability.rules as EngineRawRule[];
  const out: EngineRawRule[] = [];
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i]!;
    const actions = rule.action as string[];
    if (!actions.includes(action) && !actions.includes(ANY)) continue;
    if (rule.inverted && rule.fields) continue;
    out.push(rule);
  }
  return out;
}
