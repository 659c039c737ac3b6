import Provider from 'oidc-provider';
import { addressInRanges } from '../common/index.ts';

/**
 * The endpoints where a client authenticates with its credentials (RFC 6749 §2.3, RFC 7009,
 * RFC 7662): the allow-list and the client-authentication guard apply there.
 */
export const CREDENTIAL_PATHS: ReadonlySet<string> = new Set([
  '/token',
  '/token/introspection',
  '/token/revocation',
]);

/**
 * Whether the client may use its credentials in the current request: a client with an
 * allow-list gets nothing from addresses outside it (as if it did not exist: invalid_client).
 * The address is the one the HTTP layer resolved (X-Forwarded-For only from trusted proxies).
 */
export function addressAllowed(allowList: unknown): boolean {
  if (!Array.isArray(allowList) || allowList.length === 0) return true;
  const ctx = Provider.ctx;
  if (!ctx || !CREDENTIAL_PATHS.has(ctx.path)) return true;
  return addressInRanges(
    ctx.ip,
    allowList.filter((r): r is string => typeof r === 'string'),
  );
}
