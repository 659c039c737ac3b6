import type { z } from 'zod';
import { TollgateError } from './errors.ts';

/** Parses untrusted input; the error names every offending field (`redirect_uris.0: …`). */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') return `unknown field ${issue.keys.join(', ')}`;
    return path ? `${path}: ${issue.message}` : `request body: ${issue.message}`;
  });
  throw new TollgateError('invalid_request', problems.join('; '));
}

/**
 * A path parameter naming a stored thing (`DELETE /admin/users/:id`). A value `schema` refuses
 * could never have been stored, so the thing does not exist: 404 before any query (issue 9).
 */
export function parseStoredName(schema: z.ZodType<string>, value: string | undefined, what: string): string {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new TollgateError('not_found', `${what} ${JSON.stringify(value ?? '')} does not exist`);
}
