import { TollgateError } from './errors.ts';
import { isStorableText, UNSTORABLE_TEXT } from './text.ts';

/** Keys that would reach object prototypes if copied naively; refused at the edge. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 8;
const MAX_ITEMS = 1000;
const MAX_KEY = 128;

/** Strings in /decide bodies: attribute values and ids, never documents. */
export const DECIDE_MAX_STRING = 4096;

/**
 * Walks raw JSON before schema parsing and enforces what schemas leave open inside free-form
 * objects: no reserved keys, keys of 1–128 characters, strings of at most `maxString`
 * characters, arrays of at most 1000 items, nesting at most 8 levels, and no NUL or unpaired
 * surrogate in any key or string (issue 9: the database refuses them, and decisions and admin
 * changes are written to the audit log). Every JSON body passes it
 * (parseBody; /decide with the 4096-character limit on strings). The error names the path; the
 * path is only built when something is wrong, since this runs on every decision.
 */
export function assertSafeJson(value: unknown, maxString = DECIDE_MAX_STRING): void {
  const problem = findProblem(value, 0, maxString);
  if (problem) {
    const path = ['body', ...problem.path.reverse()].join('.');
    throw new TollgateError('invalid_request', `${path}: ${problem.message}`);
  }
}

function findProblem(
  value: unknown,
  depth: number,
  maxString: number,
): { path: string[]; message: string } | undefined {
  if (typeof value === 'string') {
    if (value.length > maxString) return { path: [], message: `must be at most ${maxString} characters` };
    return isStorableText(value) ? undefined : { path: [], message: UNSTORABLE_TEXT };
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_DEPTH) return { path: [], message: `nested deeper than ${MAX_DEPTH} levels` };
  if (Array.isArray(value)) {
    if (value.length > MAX_ITEMS) return { path: [], message: `at most ${MAX_ITEMS} items` };
    for (let i = 0; i < value.length; i++) {
      const problem = findProblem(value[i], depth + 1, maxString);
      if (problem) {
        problem.path.push(String(i));
        return problem;
      }
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (RESERVED_KEYS.has(key)) return { path: [key], message: 'reserved key' };
    if (key.length === 0 || key.length > MAX_KEY)
      return { path: [key.slice(0, 20)], message: `keys must have 1 to ${MAX_KEY} characters` };
    if (!isStorableText(key))
      return { path: [JSON.stringify(key).slice(1, -1).slice(0, 20)], message: `keys ${UNSTORABLE_TEXT}` };
    const problem = findProblem((value as Record<string, unknown>)[key], depth + 1, maxString);
    if (problem) {
      problem.path.push(key);
      return problem;
    }
  }
  return undefined;
}
