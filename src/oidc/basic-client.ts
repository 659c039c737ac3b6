import type { IncomingHttpHeaders } from 'node:http';
import { isStorableText, secretMatchesDigest } from '../common/index.ts';
import { allowedFrom } from './address-allow-list.ts';
import type { ClientDirectory } from './directories.ts';

export interface BasicClientDeps {
  clients: ClientDirectory;
  /** Seconds `clientId` must wait at `address` for its failed authentications (client-auth-guard.ts). */
  authWait(clientId: string, address: string): Promise<number>;
}

/** What a form request answered before oidc-provider brings: headers, parsed form, resolved address. */
export interface FormRequest {
  headers: IncomingHttpHeaders;
  /** The form as oidc-provider parses it (node:querystring: a repeated name gives an array). */
  form: Record<string, string | string[] | undefined>;
  ip: string;
}

/** A client that proved itself with its secret in HTTP Basic. */
export interface BasicClient {
  clientId: string;
  /** Its registered method: client_secret_basic or client_secret_post (oidc-provider takes either in Basic). */
  method: string;
}

/** Headers naming another way of authenticating than a client secret in Basic. */
const OTHER_AUTHENTICATION = ['oauth-client-attestation', 'oauth-client-attestation-pop', 'dpop'];
/** oidc-provider refuses anything else in a Basic credential (RFC 6749 §2.3.1: VSCHAR). */
const NOT_VSCHAR = /[^\x20-\x7E]/;

/**
 * The client a request authenticates as with its secret in HTTP Basic, checked by the rules
 * oidc-provider and the guards apply at its endpoints (shared_client_auth, client-auth-guard.ts,
 * address-allow-list.ts): registered for a secret, the secret not expired, allowed from the
 * address, not held back by the client-auth guard (before any secret is compared), and the
 * secret right. Used by the requests answered before oidc-provider (jwt-introspection.ts,
 * client-credentials.ts).
 *
 * Anything else is undefined, and the caller leaves the request to oidc-provider, so that every
 * failure is counted and answered there (401 or 429): another authentication method or a second
 * one, an unknown client, a wrong or expired secret, a lookup that failed.
 */
export async function clientFromBasic(
  deps: BasicClientDeps,
  request: Pick<FormRequest, 'headers' | 'ip'>,
): Promise<BasicClient | undefined> {
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
  return { clientId: credentials.clientId, method };
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
