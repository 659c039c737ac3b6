import * as client from 'openid-client';
import type { TestInstance } from './instance.ts';

/** Creates something through the admin API and returns its JSON answer, failing loudly. */
export async function adminCreate<T>(tg: TestInstance, path: string, body: unknown): Promise<T> {
  const response = await tg.admin$('POST', path, body);
  const json = (await response.json()) as T;
  if (response.status !== 201)
    throw new Error(`POST /admin${path} → ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

export interface CreatedClient {
  client_id: string;
  client_secret?: string;
}

export function createApi(
  tg: TestInstance,
  body: { audience: string; scopes: string[]; alg?: string; ttl?: number },
) {
  return adminCreate(tg, '/apis', body);
}

export function createClient(tg: TestInstance, body: Record<string, unknown>): Promise<CreatedClient> {
  return adminCreate<CreatedClient>(tg, '/clients', body);
}

export function createUser(
  tg: TestInstance,
  body: { username: string; password: string; roles?: string[]; attrs?: Record<string, string> },
) {
  return adminCreate<{ id: string }>(tg, '/users', body);
}

/** openid-client configuration by discovery; the test issuer is plain http on loopback. */
export async function discover(
  tg: TestInstance,
  clientId: string,
  auth: client.ClientAuth,
  metadata: Partial<client.ClientMetadata> = {},
) {
  return client.discovery(new URL(tg.issuer), clientId, metadata, auth, {
    execute: [client.allowInsecureRequests],
  });
}

/** A client-credentials client with client_secret_basic, and its openid-client configuration. */
export async function createMachineClient(
  tg: TestInstance,
  body: { name: string; scope: string; api: string; roles?: string[] },
) {
  const created = await createClient(tg, { grant_types: ['client_credentials'], ...body });
  const config = await discover(tg, created.client_id, client.ClientSecretBasic(created.client_secret));
  return { created, config };
}

/** The redirect URI of the tests' web clients (an address nothing is served at). */
export const WEB_REDIRECT = 'https://app.example.test/cb';

/** A confidential browser client (code + PKCE, refresh tokens) granted `scope` at `api`. */
export function createWebClient(
  tg: TestInstance,
  body: { api: string; name?: string; scope?: string },
): Promise<CreatedClient> {
  return createClient(tg, {
    name: body.name ?? 'web',
    grant_types: ['authorization_code'],
    redirect_uris: [WEB_REDIRECT],
    scope: body.scope ?? 'read',
    api: body.api,
  });
}
