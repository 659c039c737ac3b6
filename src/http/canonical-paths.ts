import type { Context, Next } from 'koa';
import { TollgateError } from '../common/index.ts';

/**
 * Every endpoint by its one spelling. oidc-provider's router ignores case and one trailing slash,
 * so `/Token/` would reach its token endpoint past guards and limits written for `/token`; the
 * families below (`/admin`, `/interaction`, …) are also matched by their leading segments.
 */
/** oidc-provider's endpoints (its default routes; docs/architecture.md 3.1 and 3.2). */
export const PROVIDER_ENDPOINTS: readonly string[] = [
  '/auth',
  '/request',
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/me',
  '/jwks',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
];

const ENDPOINTS = [
  ...PROVIDER_ENDPOINTS,
  // ours
  '/admin',
  '/decide',
  '/decide/plan',
  '/decide/forward/nginx',
  '/decide/forward/traefik',
  '/decide/forward/envoy',
  '/interaction',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.yaml',
  '/assets/tollgate.css',
];

const BY_LENGTH = ENDPOINTS.map((e) => e.slice(1).split('/')).sort((a, b) => b.length - a.length);

/** Envoy appends the original request's path here; that tail is the gateway's to judge. */
const ENVOY = '/decide/forward/envoy';

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/**
 * One path segment as a lenient router might read it: percent-encoded unreserved characters
 * decoded (RFC 3986 §6.2.2.2 calls them equivalent) and lower case.
 */
function fold(segment: string): string {
  return segment
    .replace(/%([0-9A-Fa-f]{2})/g, (encoded, hex: string) => {
      const char = String.fromCharCode(Number.parseInt(hex, 16));
      return UNRESERVED.test(char) ? char : encoded;
    })
    .toLowerCase();
}

/**
 * The endpoint `path` names in another spelling than its own (other case, percent-encoded
 * letters, a trailing slash, empty segments), by its canonical spelling; undefined when the path
 * is canonical or names no endpoint of ours.
 */
export function canonicalSpelling(path: string): string | undefined {
  const parts = path.split('/').slice(1);
  const named = parts.flatMap((part, index) => (part === '' ? [] : [{ part, index }]));
  const folded = named.map(({ part }) => fold(part));
  const endpoint = BY_LENGTH.find((e) => e.every((segment, i) => folded[i] === segment));
  if (!endpoint) return undefined;
  const headEnd = (named[endpoint.length - 1]?.index ?? 0) + 1;
  const head = `/${parts.slice(0, headEnd).join('/')}`;
  const canonicalHead = `/${endpoint.join('/')}`;
  const tail = parts.slice(headEnd);
  if (head !== canonicalHead) return canonicalHead;
  return canonicalHead === ENVOY || !tail.includes('') ? undefined : canonicalHead;
}

/**
 * Refuses any other spelling of an endpoint with 404 before a router sees it (issue 9): the
 * guards, limits and allow-lists are written for one spelling, so no other may reach a handler.
 */
export async function refuseOtherSpellings(ctx: Context, next: Next) {
  const canonical = canonicalSpelling(ctx.path);
  if (canonical !== undefined) {
    throw new TollgateError(
      'not_found',
      `no such endpoint; ${canonical} is spelled in lower case, without a trailing slash, doubled slashes or percent-encoded letters`,
    );
  }
  await next();
}
