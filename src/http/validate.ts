import type { z } from 'zod';
import { TollgateError } from '../common/index.ts';

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
