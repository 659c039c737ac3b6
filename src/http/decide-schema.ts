import { z } from 'zod';
import { TollgateError } from '../common/index.ts';

/** Keys that would reach object prototypes if copied naively; refused at the edge. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 8;
const MAX_STRING = 4096;

const MAX_ITEMS = 1000;
const MAX_KEY = 128;

/**
 * Walks raw JSON before schema parsing and enforces what the schema leaves open inside free-form
 * attributes: no reserved keys, keys of 1–128 characters, strings of at most 4096 characters,
 * arrays of at most 1000 items, nesting at most 8 levels. The error names the path; the path is
 * only built when something is wrong, since this runs on every decision.
 */
export function assertSafeJson(value: unknown): void {
  const problem = findProblem(value, 0);
  if (problem) {
    const path = ['body', ...problem.path.reverse()].join('.');
    throw new TollgateError('invalid_request', `${path}: ${problem.message}`);
  }
}

function findProblem(value: unknown, depth: number): { path: string[]; message: string } | undefined {
  if (typeof value === 'string') {
    return value.length > MAX_STRING
      ? { path: [], message: `must be at most ${MAX_STRING} characters` }
      : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (depth >= MAX_DEPTH) return { path: [], message: `nested deeper than ${MAX_DEPTH} levels` };
  if (Array.isArray(value)) {
    if (value.length > MAX_ITEMS) return { path: [], message: `at most ${MAX_ITEMS} items` };
    for (let i = 0; i < value.length; i++) {
      const problem = findProblem(value[i], depth + 1);
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
    const problem = findProblem((value as Record<string, unknown>)[key], depth + 1);
    if (problem) {
      problem.path.push(key);
      return problem;
    }
  }
  return undefined;
}

const name = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
// Attribute values are free-form JSON, already bounded by assertSafeJson.
const attrs = z.record(z.string(), z.unknown());

const explicitSubject = z
  .object({ id: name(256), roles: z.array(name(128)).max(100).default([]), attrs: attrs.default({}) })
  .strict();
const tokenSubject = z.object({ token: name(16_384) }).strict();
const subject = z.union([tokenSubject, explicitSubject], {
  error: 'must be { "token": "…" } or { "id": "…", "roles": […], "attrs": {…} }',
});

const resource = z.object({ type: name(128), id: name(256).optional(), attrs: attrs.optional() }).strict();
const check = z.object({ action: name(128), resource, field: name(128).optional() }).strict();

export const MAX_CHECKS = 100;

export const singleDecideBody = z
  .object({ subject, action: name(128), resource, field: name(128).optional(), context: attrs.optional() })
  .strict();
export const batchDecideBody = z
  .object({
    subject,
    checks: z
      .array(check)
      .min(1, 'needs at least one check')
      .max(MAX_CHECKS, `at most ${MAX_CHECKS} checks a request`),
    context: attrs.optional(),
  })
  .strict();
export const planBody = z
  .object({
    subject,
    action: name(128),
    resource: z.object({ type: name(128) }).strict(),
    context: attrs.optional(),
  })
  .strict();

export type SubjectInput = z.infer<typeof subject>;
