import type { Scalar } from './attribute-path.ts';
import type { ConditionTemplate, TemplateValue } from './conditions.ts';
import type { CompiledResource, CompiledRule } from './model.ts';
import { Placeholder } from './placeholders.ts';
import { CompiledPolicySet } from './policy-set.ts';

/** Operators whose answer depends on the order of values, which digests do not keep. */
const ORDERING = new Set(['$gt', '$gte', '$lt', '$lte']);
/** Operators whose operand says something about structure (presence, length), never a value. */
const STRUCTURAL = new Set(['$exists', '$size']);

/** A policy set that decides on hashed inputs, and the rules it cannot judge on them. */
export interface HashedPolicySet {
  set: CompiledPolicySet;
  /** Resource type → the rules comparing by order ($gt…): decisions about the type cannot be replayed hashed. */
  ordered: ReadonlyMap<string, string[]>;
}

/**
 * `set` with every literal value in its conditions replaced by `hash` of it, for replaying
 * decisions whose inputs were recorded hashed (DECISION_LOG_INPUTS=hashed, audit/input-hash.ts):
 * the replayed subject id, resource id, attributes and context are digests made by the same
 * `hash`, so equality, `$in`, `$nin` and `$all` compare digests with digests and decide as they
 * would on the values, placeholders included. `$exists` and `$size` keep their operands. Rules
 * that order values cannot be judged on digests: they are listed, and the caller replays no
 * decision about their resource type (preview-log.ts).
 */
export function hashedPolicySet(set: CompiledPolicySet, hash: (value: Scalar) => string): HashedPolicySet {
  const ordered = new Map<string, string[]>();
  const resources = set.compiled.map((resource): CompiledResource => {
    const rules = resource.rules.map((rule): CompiledRule => {
      if (rule.when === undefined) return rule;
      const flags = { ordered: false };
      const when = hashDocument(rule.when, hash, flags);
      if (flags.ordered) ordered.set(resource.type, [...(ordered.get(resource.type) ?? []), rule.id]);
      return { ...rule, when };
    });
    return { ...resource, rules };
  });
  return { set: new CompiledPolicySet(resources, set.version), ordered };
}

type Flags = { ordered: boolean };

function hashDocument(
  doc: ConditionTemplate,
  hash: (value: Scalar) => string,
  flags: Flags,
): ConditionTemplate {
  const out: Record<string, TemplateValue> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (key === '$and' || key === '$or' || key === '$nor')
      out[key] = (value as readonly ConditionTemplate[]).map((item) => hashDocument(item, hash, flags));
    else out[key] = hashFieldCondition(value, hash, flags);
  }
  return out;
}

function hashFieldCondition(
  value: TemplateValue,
  hash: (value: Scalar) => string,
  flags: Flags,
): TemplateValue {
  if (value === null || value instanceof Placeholder || typeof value !== 'object' || Array.isArray(value))
    return hashOperand(value, hash);
  const out: Record<string, TemplateValue> = {};
  for (const [operator, operand] of Object.entries(value as ConditionTemplate)) {
    if (ORDERING.has(operator)) flags.ordered = true;
    out[operator] =
      ORDERING.has(operator) || STRUCTURAL.has(operator)
        ? operand
        : Array.isArray(operand)
          ? operand.map((item) => hashOperand(item, hash))
          : hashOperand(operand, hash);
  }
  return out;
}

/** A literal becomes its digest; null (absent) and placeholders (resolved from hashed inputs) stay. */
function hashOperand(value: TemplateValue, hash: (value: Scalar) => string): TemplateValue {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return hash(value);
  return value;
}
