import Provider from 'oidc-provider';
import { addressInRanges } from '../common/index.ts';

/**
 * The oidc-provider routes where a client authenticates with its credentials (RFC 6749 §2.3,
 * RFC 7009, RFC 7662, and pushed authorization requests, RFC 9126 §2.1, which oidc-provider
 * serves at /request): the allow-list and the client-authentication guard apply there. Keyed on
 * the route oidc-provider resolved, never on the path: its router ignores case and one trailing
 * slash, so `/Token/` is the token endpoint too (issue 9).
 */
export const CREDENTIAL_ROUTES: ReadonlySet<string> = new Set([
  'token',
  'introspection',
  'revocation',
  'pushed_authorization_request',
]);

/** What the guards read of oidc-provider's per-request context. */
export interface RoutedContext {
  ip: string;
  status: number;
  body: unknown;
  set(field: string, value: string): void;
  /** Defined once oidc-provider's router has matched a route. */
  oidc?: {
    route?: string;
    client?: { clientId: string; clientAuthMethod?: string };
  };
}

/** The route oidc-provider is serving in the current request, if any. */
export function currentRoute(ctx: RoutedContext | undefined = Provider.ctx): string | undefined {
  return ctx?.oidc?.route;
}

/**
 * Whether the client may use its credentials in the current request: a client with an
 * allow-list gets nothing from addresses outside it (as if it did not exist: invalid_client).
 * The address is the one the HTTP layer resolved (X-Forwarded-For only from trusted proxies).
 */
export function addressAllowed(allowList: unknown): boolean {
  if (!Array.isArray(allowList) || allowList.length === 0) return true;
  const ctx = Provider.ctx;
  const route = currentRoute(ctx);
  if (!ctx || route === undefined || !CREDENTIAL_ROUTES.has(route)) return true;
  return allowedFrom(allowList, ctx.ip);
}

/** Whether a client's allow-list (`tollgate_allowed_ips`; none: any address) admits `ip`. */
export function allowedFrom(allowList: unknown, ip: string): boolean {
  if (!Array.isArray(allowList) || allowList.length === 0) return true;
  return addressInRanges(
    ip,
    allowList.filter((r): r is string => typeof r === 'string'),
  );
}
