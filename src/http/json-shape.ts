import { isStorableText, TollgateError, UNSTORABLE_TEXT } from '../common/index.ts';

/**
 * In front of oidc-provider (issue 9 §9): it keeps request parameters in the payloads it stores
 * (an /auth or /session/end `state`), where PostgreSQL refuses NUL (SQLSTATE 22P05). A query
 * parameter that could never be stored is refused here, naming it, before anything is written.
 */
export async function refuseUnstorableQuery(
  ctx: { query: Record<string, string | string[] | undefined> },
  next: () => Promise<void>,
): Promise<void> {
  for (const [name, value] of Object.entries(ctx.query)) {
    const values = Array.isArray(value) ? value : [value ?? ''];
    if (!isStorableText(name) || !values.every(isStorableText)) {
      throw new TollgateError(
        'invalid_request',
        `${isStorableText(name) ? name : 'a query parameter name'}: ${UNSTORABLE_TEXT}`,
      );
    }
  }
  await next();
}
