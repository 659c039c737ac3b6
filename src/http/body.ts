import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import { assertSafeJson, TollgateError } from '../common/index.ts';

/**
 * Parses JSON or form bodies with a byte limit, then holds the parsed value to the shape limits
 * of assertSafeJson (depth, reserved keys, array and key sizes; strings are bounded by the byte
 * limit alone, as policy files travel in them). Failures become OAuth-shaped errors.
 */
export function parseBody(types: ('json' | 'form')[], limit = '64kb') {
  const parse = bodyParser({
    enableTypes: types,
    jsonLimit: limit,
    formLimit: limit,
    jsonStrict: true,
    onError(error) {
      const status = (error as { status?: number }).status;
      if (status === 413) throw new TollgateError('request_too_large', `request body exceeds ${limit}`);
      if (status === 415) throw new TollgateError('unsupported_media_type', 'unsupported content type');
      throw new TollgateError('invalid_request', 'request body is not valid JSON or form data');
    },
  });
  return async function parseAndCheckBody(ctx: Context, next: Next) {
    await parse(ctx, async () => {
      assertSafeJson(ctx.request.body, Number.POSITIVE_INFINITY);
      await next();
    });
  };
}

/** A request body must be JSON (415 otherwise), before any field is looked at. */
export async function requireJson(ctx: Context, next: Next) {
  const hasBody = (ctx.request.length ?? 0) > 0 || ctx.get('transfer-encoding') !== '';
  if (hasBody && !ctx.is('application/json')) {
    throw new TollgateError('unsupported_media_type', 'the request body must be application/json');
  }
  await next();
}
