import assert from 'node:assert/strict';
import type { z } from 'zod';
import { parseInput, TollgateError } from '../../src/common/index.ts';

/** Asserts `action` fails with the OAuth error `code` and a description matching `description`. */
export async function rejectsWith(
  action: Promise<unknown> | (() => unknown),
  code: TollgateError['code'],
  description: RegExp,
): Promise<void> {
  await assert.rejects(
    async () => (typeof action === 'function' ? action() : action),
    (error: unknown) => {
      assert.ok(error instanceof TollgateError, `a TollgateError, not ${String(error)}`);
      assert.equal(error.code, code, error.message);
      assert.match(error.message, description);
      return true;
    },
  );
}

/** The admin API's parsing of a request body, as its routes run it before a use case. */
export function parsed<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  return parseInput(schema, body);
}
