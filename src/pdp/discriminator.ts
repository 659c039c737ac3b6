import { isScalar, type Scalar } from './attribute-path.ts';
import { isPlainObject } from './conditions.ts';
import type { ResourceView } from './resource-view.ts';

/**
 * CASL indexes an ability's rules by action and by subject type, and only tries the rules
 * under the request's pair. The engine has one resource type per ability, so it lends the
 * subject-type index to an attribute instead: when many allow rules each require a literal
 * value of the same attribute (`project: p-17`, or a substituted `${…}`), each such rule is
 * filed under that value, and a request only tries the rules filed under its resource's value
 * plus the rules filed under "any". 10,000 rules that differ by project cost what a handful do.
 *
 * Only allow rules are filed by value. A deny must also fire when the attribute is an array
 * or another hostile shape (the strict matcher treats that as a match for denies), so denies
 * always stay under "any" and are always tried.
 */

/** CASL's "any subject type": rules filed under it are tried for every request. */
export const ANY_VALUE = ' any';
/** The subject type of a resource whose attribute has no usable value: only "any" rules apply. */
const NO_VALUE = ' none';

// Below this many allow rules an index cannot pay for the lookup it adds to every request.
const MIN_RULES = 16;
const MIN_DISTINCT_VALUES = 4;

/** The value key a rule is filed under, or a resource looked up by: type-tagged, so 1 ≠ "1". */
export function valueKey(value: Scalar): string {
  return `${typeof value}:${value}`;
}

/** The literal a rule's conditions require of `attribute` (plain or `$eq` equality at top level). */
export function requiredValue(conditions: unknown, attribute: string): Scalar | undefined {
  if (!isPlainObject(conditions) || !Object.hasOwn(conditions, attribute)) return undefined;
  let value = conditions[attribute];
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    value = keys.length === 1 && keys[0] === '$eq' ? value.$eq : undefined;
  }
  return isScalar(value) ? value : undefined;
}

/**
 * The attribute that splits the allow rules' conditions into the most values, when indexing
 * by it is worth it; undefined otherwise.
 */
export function chooseDiscriminator(allowConditions: readonly unknown[]): string | undefined {
  if (allowConditions.length < MIN_RULES) return undefined;
  const values = new Map<string, Set<string>>();
  for (const conditions of allowConditions) {
    if (!isPlainObject(conditions)) continue;
    for (const attribute of Object.keys(conditions)) {
      if (attribute.startsWith('$')) continue;
      const value = requiredValue(conditions, attribute);
      if (value === undefined) continue;
      const seen = values.get(attribute) ?? new Set<string>();
      values.set(attribute, seen.add(valueKey(value)));
    }
  }
  let best: string | undefined;
  let bestCount = MIN_DISTINCT_VALUES - 1;
  for (const [attribute, seen] of values)
    if (seen.size > bestCount) [best, bestCount] = [attribute, seen.size];
  return best;
}

/** CASL's `detectSubjectType` for an ability indexed by `attribute`. */
export function subjectTypeOf(attribute: string): (view: ResourceView) => string {
  return (view) => {
    const value = view.read(attribute);
    return isScalar(value) ? valueKey(value) : NO_VALUE;
  };
}
