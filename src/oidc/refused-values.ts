import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isRefusedValue } from '../db/index.ts';
import type { Pages } from './views.ts';

const DESCRIPTION = 'a value in the request cannot be stored or looked up (e.g. it contains NUL)';

/**
 * Issue 9, last line of defence inside oidc-provider: it answers any fault it did not expect
 * with 500 server_error, including the database refusing a value the client sent (SQLSTATE
 * class 22, e.g. NUL in an identifier). That is the client's error: 400 invalid_request, as
 * JSON or as the error page. The adapter refuses such ids before any query; this catches what
 * it cannot know. Same mechanism as answerOutagesWith503 (the `server_error` event comes
 * before the answer reaches this outermost middleware).
 */
export function answerRefusedValuesWith400(provider: Provider, pages: Pages): void {
  const refused = new WeakSet<object>();
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: unknown) => {
    if (isRefusedValue(error)) refused.add(ctx);
  });
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.status !== 500 || !refused.has(ctx)) return;
    ctx.status = 400;
    ctx.body =
      typeof ctx.body === 'string'
        ? pages.error({ error: 'invalid_request', description: DESCRIPTION })
        : { error: 'invalid_request', error_description: DESCRIPTION };
  });
}
