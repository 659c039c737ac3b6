import { z } from 'zod';
import { TollgateError } from '../common/index.ts';

/** Keys that would reach object prototypes if copied naively; refused at the edge. */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 8;
const MAX_STRING = 4096;

/**
 * Walks raw JSON before schema parsing: refuses reserved keys and nesting deeper than
 * MAX_DEPTH, naming the path, so nothing downstream ever sees them.
 */
export function assertSafeJson(value: unknown, path = 'body', depth = 0): void {
  if (depth > MAX_DEPTH)
    throw new TollgateError('invalid_request', `${path}: nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) assertSafeJson(item, `${path}.${i}`, depth + 1);
  } else if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) {
      if (RESERVED_KEYS.has(key)) throw new TollgateError('invalid_request', `${path}.${key}: reserved key`);
      assertSafeJson((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1);
    }
  }
}

const name = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
const jsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.string().max(MAX_STRING, `must be at most ${MAX_STRING} characters`),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(jsonValue).max(1000),
    z.record(name(128), jsonValue),
  ]),
);
const attrs = z.record(name(128), jsonValue);

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
