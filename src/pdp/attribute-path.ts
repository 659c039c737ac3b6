/**
 * Dotted attribute paths (`owner.id`, `subject.attrs.org.tenant`) and the one way the engine
 * reads them out of caller-supplied JSON: own properties only, never the prototype chain, so a
 * polluted `Object.prototype` or a `__proto__`/`constructor` key sent by a caller cannot supply
 * a value that a rule then compares.
 */

/** Keys that name prototype machinery; never valid as a path segment in a policy. */
const FORBIDDEN_SEGMENTS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const SEGMENT = /^[A-Za-z0-9_-]+$/;

/** A value a placeholder may stand for, and the only kind plain equality compares. */
export type Scalar = string | number | boolean;

export function isScalar(value: unknown): value is Scalar {
  const kind = typeof value;
  return kind === 'string' || kind === 'boolean' || (kind === 'number' && Number.isFinite(value));
}

/** Why `path` cannot be an attribute path, or undefined when it can. */
export function attributePathProblem(path: string): string | undefined {
  if (path === '') return 'an attribute path must not be empty';
  for (const segment of path.split('.')) {
    if (FORBIDDEN_SEGMENTS.has(segment)) return `"${segment}" is not allowed in an attribute path`;
    if (!SEGMENT.test(segment))
      return `invalid attribute path "${path}" (segments are letters, digits, "_" or "-", joined by ".")`;
  }
  return undefined;
}

// Paths come from validated policies, so this cache is bounded by the policy set's size.
const splitCache = new Map<string, readonly string[]>();

/** `owner.id` → `['owner', 'id']`, memoised because conditions ask on every evaluation. */
export function splitPath(path: string): readonly string[] {
  let segments = splitCache.get(path);
  if (segments === undefined) {
    segments = Object.freeze(path.split('.'));
    splitCache.set(path, segments);
  }
  return segments;
}

/**
 * Walks `segments` through own properties of `root`. Anything missing, or a step through a
 * non-object, gives undefined (the attribute is absent). Arrays are not spread the way MongoDB
 * does (`owners.id` on an array of owners is absent), which keeps equality strict.
 */
export function readOwnPath(root: unknown, segments: readonly string[], from = 0): unknown {
  let current = root;
  for (let i = from; i < segments.length; i++) {
    if (current === null || typeof current !== 'object') return undefined;
    const segment = segments[i]!;
    if (!Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}
