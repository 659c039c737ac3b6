import type { IncomingHttpHeaders } from 'node:http';
import { isStorableText, secretMatchesDigest } from '../common/index.ts';
import type { AccessTokenVerifier } from './access-token-verifier.ts';
import { allowedFrom } from './address-allow-list.ts';
import type { ClientGrants } from './client-grants.ts';
import type { ClientDirectory } from './directories.ts';
import { audiencesOf, introspect, isJwt, mayIntrospect } from './structured-tokens.ts';
import type { UserDirectory } from './user-directory.ts';

export interface JwtIntrospectionDeps {
  clients: ClientDirectory;
  verifier: AccessTokenVerifier;
  users: UserDirectory;
  grants: ClientGrants;
  /** Seconds `clientId` must wait at `address` for its failed authentications (client-auth-guard.ts). */
  authWait(clientId: string, address: string): Promise<number>;
}

/** What an introspection request brings: its headers, its parsed form and the resolved address. */
export interface IntrospectionRequest {
  headers: IncomingHttpHeaders;
  /** The form as oidc-provider parses it (node:querystring: a repeated name gives an array). */
  form: Record<string, string | string[] | undefined>;
  ip: string;
}

/** Headers naming another way of authenticating than a client secret in Basic. */
const OTHER_AUTHENTICATION = ['oauth-client-attestation', 'oauth-client-attestation-pop', 'dpop'];
/** oidc-provider refuses anything else in a Basic credential (RFC 6749 §2.3.1: VSCHAR). */
const NOT_VSCHAR = /[^\x20-\x7E]/;

/**
 * RFC 7662 introspection of Tollgate's own JWT access tokens in its commonest form, a resource
 * server authenticating with its secret in HTTP Basic, answered without oidc-provider: there
 * the request pays for Koa's and oidc-provider's pipelines, an exception oidc-provider throws to
 * refuse JWTs, and a signature check per request (issue 14). Same rules as the full path
 * (structured-tokens.ts): the client must be registered for a secret, allowed from the address
 * and not held back by the client-auth guard, and the token must be one it may introspect.
 *
 * Anything else resolves to undefined, and the request takes the full path unchanged: another
 * authentication method, a wrong or expired secret (so that failures are counted and answered
 * there, 401 or 429), an opaque token, an unexpected parameter, a lookup that failed.
 */
export function createJwtIntrospection(deps: JwtIntrospectionDeps) {
  return async function introspectJwt(request: IntrospectionRequest): Promise<object | undefined> {
    const token = soleToken(request.form);
    if (token === undefined || !isJwt(token)) return undefined;
    if (OTHER_AUTHENTICATION.some((name) => request.headers[name] !== undefined)) return undefined;
    const credentials = basicCredentials(request.headers.authorization);
    if (!credentials) return undefined;
    const client = await deps.clients.find(credentials.clientId);
    const method = client?.metadata.token_endpoint_auth_method ?? 'client_secret_basic';
    if (
      !client?.secret_digest ||
      (method !== 'client_secret_basic' && method !== 'client_secret_post') ||
      expires(client.metadata.client_secret_expires_at) ||
      !allowedFrom(client.metadata.tollgate_allowed_ips, request.ip)
    )
      return undefined;
    if ((await deps.authWait(credentials.clientId, request.ip)) > 0) return undefined;
    if (!secretMatchesDigest(credentials.secret, client.secret_digest)) return undefined;
    const caller = { clientId: credentials.clientId, clientAuthMethod: method };
    return introspect(deps.verifier, deps.users, token, (payload) =>
      mayIntrospect(deps.grants, caller, {
        clientId: payload.client_id,
        audiences: audiencesOf(payload.aud),
      }),
    );
  };
}

/** `token` given once, `token_type_hint` at most once, nothing else. */
function soleToken(form: IntrospectionRequest['form']): string | undefined {
  for (const name in form) {
    if (name !== 'token' && name !== 'token_type_hint') return undefined;
    if (typeof form[name] !== 'string') return undefined;
  }
  return form.token === '' ? undefined : (form.token as string | undefined);
}

/** Client id and secret from `Basic base64(form-encoded id ":" form-encoded secret)`, as oidc-provider reads them. */
function basicCredentials(header: string | undefined): { clientId: string; secret: string } | undefined {
  if (header === undefined || !header.startsWith('Basic ')) return undefined;
  const encoded = header.slice(6);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return undefined;
  const basic = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = basic.indexOf(':');
  if (colon === -1) return undefined;
  try {
    const clientId = formDecode(basic.slice(0, colon));
    const secret = formDecode(basic.slice(colon + 1));
    if (!clientId || !secret || clientId.length > 4096 || !isStorableText(clientId)) return undefined;
    return { clientId, secret };
  } catch {
    return undefined;
  }
}

function formDecode(value: string): string {
  const decoded = decodeURIComponent(value.replace(/\+/g, '%20'));
  if (NOT_VSCHAR.test(decoded)) throw new Error('not VSCHAR');
  return decoded;
}

function expires(at: unknown): boolean {
  return typeof at === 'number' && at !== 0 && at * 1000 <= Date.now();
}
