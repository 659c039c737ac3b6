import { buildMongoQueryMatcher, type ConditionsMatcher, type MongoQuery } from '@casl/ability';
import { isScalar, splitPath } from './attribute-path.ts';
import { ResourceView } from './resource-view.ts';

/**
 * The conditions matcher CASL evaluates rules with. Stock MongoDB semantics (as @ucast/js
 * implements them) let `{ tenant: "acme" }` match a resource whose tenant is `["acme", "evil"]`,
 * spread nested paths over arrays, and coerce `"5000" > 1000`; any of these would let a caller
 * slip past tenant isolation by sending an array. Here every operator is strict:
 *
 * - plain equality and `$in` compare scalars strictly (1 is not "1"); `$gt`… order numbers
 *   with numbers and strings with strings;
 * - an absent (or null) attribute is simply unequal, as in MongoDB (`$ne`/`$nin` then hold);
 * - anything else — an array or object where a scalar was expected, or `$gt` between a number
 *   and a string — is *indeterminate*. Indeterminate propagates through `$and`/`$or`/`$nor`
 *   (Kleene logic) and, at the rule, counts as no match for an allow rule and as a match for a
 *   deny rule, so malformed input can only ever deny.
 *
 * `$all` and `$size` are the only operators that look into arrays, and only on purpose.
 *
 * CASL's MongoDB parser (ucast) turns conditions into a syntax tree; the tree is then compiled
 * once into closures rather than interpreted node by node on every request (the hot path).
 */

/** true, false, or undefined: indeterminate (see the header). */
export type Tri = boolean | undefined;
type Test = (view: ResourceView) => Tri;
export type Leaf = (actual: unknown, expected: unknown) => Tri;

interface AstNode {
  operator: string;
  field?: string;
  value: unknown;
}

const absent = (value: unknown): boolean => value === undefined || value === null;

const negate = (value: Tri): Tri => (value === undefined ? undefined : !value);

function equals(actual: unknown, expected: unknown): Tri {
  if (expected === null) return absent(actual);
  if (absent(actual)) return false;
  return isScalar(actual) ? actual === expected : undefined;
}

function ordered(holds: (order: number) => boolean): Leaf {
  return (actual, expected) => {
    if (absent(actual)) return false;
    if (typeof actual !== typeof expected || (typeof actual !== 'number' && typeof actual !== 'string'))
      return undefined;
    return holds(actual === expected ? 0 : (actual as number) > (expected as number) ? 1 : -1);
  };
}

function within(actual: unknown, list: unknown): Tri {
  const items = list as readonly unknown[];
  if (absent(actual)) return items.includes(null);
  return isScalar(actual) ? items.includes(actual) : undefined;
}

/**
 * Each field operator (ucast's name, without `$`), as strict as the header says. Exported for
 * explain.ts, which must judge conditions exactly as decisions do.
 */
export const LEAVES: Readonly<Record<string, Leaf>> = {
  eq: equals,
  ne: (actual, expected) => negate(equals(actual, expected)),
  gt: ordered((order) => order > 0),
  gte: ordered((order) => order >= 0),
  lt: ordered((order) => order < 0),
  lte: ordered((order) => order <= 0),
  in: within,
  nin: (actual, list) => negate(within(actual, list)),
  exists: (actual, expected) => !absent(actual) === expected,
  all: (actual, list) => {
    if (absent(actual)) return false;
    if (!Array.isArray(actual)) return undefined;
    return (list as readonly unknown[]).every((item) => actual.includes(item));
  },
  size: (actual, expected) => {
    if (absent(actual)) return false;
    return Array.isArray(actual) ? actual.length === expected : undefined;
  },
};

function compile(node: AstNode): Test {
  if (node.operator === 'and' || node.operator === 'or' || node.operator === 'nor') {
    const parts = (node.value as AstNode[]).map(compile);
    const any = anyOf(parts);
    if (node.operator === 'or') return any;
    if (node.operator === 'nor') return (view) => negate(any(view));
    return (view) => {
      let result: Tri = true;
      for (const part of parts) {
        const value = part(view);
        if (value === false) return false;
        if (value === undefined) result = undefined;
      }
      return result;
    };
  }
  const leaf = LEAVES[node.operator];
  // Validation (conditions.ts) admits only the operators above; anything else never matches.
  if (leaf === undefined || typeof node.field !== 'string') return () => undefined;
  const segments = splitPath(node.field);
  const expected = node.value;
  return (view) => leaf(view.readPath(segments), expected);
}

function anyOf(parts: readonly Test[]): Test {
  return (view) => {
    let result: Tri = false;
    for (const part of parts) {
      const value = part(view);
      if (value === true) return true;
      if (value === undefined) result = undefined;
    }
    return result;
  };
}

// ucast parses $and/$or/$nor with its default compound parser once they are declared.
const compoundInstructions = {
  $and: { type: 'compound' },
  $or: { type: 'compound' },
  $nor: { type: 'compound' },
};
const parse = buildMongoQueryMatcher(compoundInstructions);

// Conditions objects of deny rules; built fresh for every ability, so a WeakSet is exact.
const denyConditions = new WeakSet<object>();

/** Marks `conditions` as belonging to a deny rule: indeterminate then counts as a match. */
export function markDenyConditions(conditions: object): void {
  denyConditions.add(conditions);
}

/** The `conditionsMatcher` option for every ability the engine builds. */
export const conditionsMatcher: ConditionsMatcher<MongoQuery> = (conditions) => {
  const { ast } = parse(conditions);
  const test = compile(ast as unknown as AstNode);
  const whenIndeterminate = denyConditions.has(conditions as object);
  const matches = (object: unknown): boolean => {
    // CASL hands back whatever decide passed; anything but a ResourceView has no attributes.
    if (!(object instanceof ResourceView)) return false;
    const result = test(object);
    return result === undefined ? whenIndeterminate : result;
  };
  return Object.assign(matches, { ast });
};
