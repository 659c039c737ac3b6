import { z } from 'zod';

const name = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);
// Attribute values are free-form JSON, already bounded by assertSafeJson, whose keys are
// strings by construction: one check of the object itself, not a schema run per key (the hot
// path; bench/decide.ts).
const attrs = z.custom<Record<string, unknown>>(
  (value) => value !== null && typeof value === 'object' && !Array.isArray(value),
  'must be an object',
);

const explicitSubject = z
  .object({ id: name(256), roles: z.array(name(128)).max(100).default([]), attrs: attrs.default({}) })
  .strict();
// The API (audience) the caller protects: a token for any other is subject_token_invalid with
// detail audience (issue 9). One audience or a short list; narrows SUBJECT_TOKEN_AUDIENCES.
const audience = z.union([name(2048), z.array(name(2048)).min(1, 'must not be empty').max(20)], {
  error: 'must be an audience or a list of at most 20 audiences',
});
// The DPoP proof that came with a bound token (RFC 9449), and the request it was made for: the
// caller relays what its own client sent it (the DPoP header, its method and absolute URL).
const dpop = z
  .object({
    proof: name(8192),
    method: z.string().regex(/^[A-Z]{1,16}$/, 'must be an HTTP method in capitals, e.g. GET'),
    url: z
      .string()
      .max(8192, 'must be at most 8192 characters')
      .refine((url) => /^https?:\/\//i.test(url) && URL.canParse(url), 'must be an absolute http(s) URL'),
  })
  .strict();
// The client certificate of the caller's own TLS connection with its client, for a token bound
// to it (RFC 8705 §3): PEM, URL-escaped PEM as NGINX writes it, or base64 DER.
const certificate = name(16_384);
const tokenSubject = z
  .object({
    token: name(16_384),
    audience: audience.optional(),
    dpop: dpop.optional(),
    certificate: certificate.optional(),
  })
  .strict();
// A subject naming a token is a token subject whatever else is wrong with it, so errors name
// its fields (subject.audience: …) instead of the union. The bodies below are made once per
// kind of subject (bodiesFor); this one serves a subject that is neither kind, for its error.
const anySubject = z
  .unknown()
  .transform((value, ctx): z.infer<typeof tokenSubject> | z.infer<typeof explicitSubject> => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be { "token": "…" } or { "id": "…", "roles": […], "attrs": {…} }',
      });
      return z.NEVER;
    }
    const parsed = ('token' in value ? tokenSubject : explicitSubject).safeParse(value);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  });

const resource = z.object({ type: name(128), id: name(256).optional(), attrs: attrs.optional() }).strict();
const check = z.object({ action: name(128), resource, field: name(128).optional() }).strict();

export const MAX_CHECKS = 100;

// Asks for each check's explanation (pdp/explain.ts); the caller needs decide:explain or admin.
const explain = z.boolean({ error: 'must be true or false' }).optional();

function bodies<S extends z.ZodType<z.infer<typeof anySubject>>>(subject: S) {
  return {
    single: z
      .object({
        subject,
        action: name(128),
        resource,
        field: name(128).optional(),
        context: attrs.optional(),
        explain,
      })
      .strict(),
    batch: z
      .object({
        subject,
        checks: z
          .array(check)
          .min(1, 'needs at least one check')
          .max(MAX_CHECKS, `at most ${MAX_CHECKS} checks a request`),
        context: attrs.optional(),
        explain,
      })
      .strict(),
    plan: z
      .object({
        subject,
        action: name(128),
        resource: z.object({ type: name(128) }).strict(),
        context: attrs.optional(),
      })
      .strict(),
  };
}

const byKind = { token: bodies(tokenSubject), explicit: bodies(explicitSubject), any: bodies(anySubject) };

/**
 * The body schemas for `raw`'s kind of subject, picked as anySubject would pick the subject's
 * schema: the same answers and errors, without a transform and a nested parse per request.
 */
export function bodiesFor(raw: unknown): ReturnType<typeof bodies> {
  const subject =
    raw !== null && typeof raw === 'object' ? (raw as { subject?: unknown }).subject : undefined;
  if (subject === null || typeof subject !== 'object' || Array.isArray(subject)) return byKind.any;
  return 'token' in subject ? byKind.token : byKind.explicit;
}

export type SubjectInput = z.infer<typeof anySubject>;
