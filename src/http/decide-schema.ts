import { z } from 'zod';

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
