import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/index.ts';

/** How long clients should wait before retrying while the database is away. */
export const UNAVAILABLE_RETRY_SECONDS = 5;

/**
 * oidc-provider answers any fault it did not expect with 500 server_error. When the fault is
 * the database being away, that is not a bug but an outage: the client gets 503
 * `temporarily_unavailable` (RFC 6749 §4.1.2.1) with Retry-After, and tries again later.
 * oidc-provider reports the fault (`server_error` event) before its answer reaches the
 * middleware installed here, outermost.
 */
export function answerOutagesWith503(provider: Provider): void {
  const unavailable = new WeakSet<object>();
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: unknown) => {
    if (isDatabaseUnavailable(error)) unavailable.add(ctx);
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status !== 500 || !unavailable.has(ctx)) return;
    ctx.status = 503;
    ctx.set('Retry-After', String(UNAVAILABLE_RETRY_SECONDS));
    // HTML error pages keep their page; JSON answers get the OAuth error.
    if (typeof ctx.body !== 'string') {
      ctx.body = {
        error: 'temporarily_unavailable',
        error_description: 'the database is unavailable; retry shortly',
      };
    }
  });
}
