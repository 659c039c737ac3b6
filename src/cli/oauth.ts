import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { ADMIN_CREDENTIALS_FILE } from '../admin/index.ts';
import { failure, usageError } from './errors.ts';
import { DEFAULT_URL } from './target.ts';

const TIMEOUT_MS = 30_000;

/**
 * The Tollgate to get tokens from, with the admin commands' precedence: `--url`, else
 * TOLLGATE_URL, else the `url` in DATA_DIR/admin.json, else localhost:3000. No admin
 * credentials are needed: `login` and `token` act as the client named on the command line.
 */
export function resolveServerUrl(urlOption: string | undefined, env: NodeJS.ProcessEnv): string {
  const value = urlOption ?? (env.TOLLGATE_URL || urlFromCredentialsFile(env) || DEFAULT_URL);
  const url = URL.parse(value);
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.username || url.password) {
    const message = `${urlOption === undefined ? 'the Tollgate URL' : '--url'} must be an http(s) URL without credentials, such as ${DEFAULT_URL}`;
    throw urlOption === undefined ? failure(message) : usageError(message);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

// Only the URL is wanted here: a missing or unreadable file simply does not name one.
function urlFromCredentialsFile(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const { url } = JSON.parse(
      readFileSync(join(resolve(env.DATA_DIR || './data'), ADMIN_CREDENTIALS_FILE), 'utf8'),
    ) as { url?: unknown };
    return typeof url === 'string' && url ? url : undefined;
  } catch {
    return undefined;
  }
}

const httpUrl = z
  .string()
  .refine((v) => ['http:', 'https:'].includes(URL.parse(v)?.protocol ?? ''), 'must be an http(s) URL');

const discoveryDocument = z.object({
  issuer: z.string().min(1),
  authorization_endpoint: httpUrl,
  token_endpoint: httpUrl,
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});
export type Discovery = z.infer<typeof discoveryDocument>;

/** The endpoints from OpenID Connect Discovery §4, checked before any of them is used. */
async function discover(url: string): Promise<Discovery> {
  const response = await send(`${url}/.well-known/openid-configuration`, { method: 'GET' });
  if (!response.ok) {
    throw failure(
      `${url} does not look like Tollgate: discovery answered HTTP ${response.status} (check --url)`,
    );
  }
  const parsed = discoveryDocument.safeParse(await readJson(response));
  if (!parsed.success) throw failure(`${url}: unusable discovery document (${firstIssue(parsed.error)})`);
  return parsed.data;
}

/** RFC 6749 §5.1; other members (id_token, refresh_token, …) are kept for `--json`. */
const tokenResponse = z.looseObject({
  // RFC 6749 Appendix A.12 and A.4: printable ASCII only, so nothing reaching a terminal can
  // carry control sequences.
  access_token: z.string().regex(/^[\x20-\x7E]+$/, 'must be printable ASCII'),
  token_type: z.string(),
  expires_in: z.number().optional(),
  scope: z
    .string()
    .regex(/^[\x20-\x7E]*$/, 'must be printable ASCII')
    .optional(),
  refresh_token: z.string().optional(),
});
export type TokenResponse = z.infer<typeof tokenResponse>;

/**
 * The client a command acts as. With `secret` it is confidential and authenticates with
 * client_secret_basic; without, it is public and names itself with `client_id` in the body.
 */
export interface OAuthClient {
  id: string;
  /** The option naming the client, for error messages (e.g. `--client`). */
  idFrom: string;
  secret?: ClientSecret;
}

/** A client secret and where it came from (an option or variable), for error messages. */
export interface ClientSecret {
  value: string;
  from: string;
}

/** A Tollgate found by discovery, and token requests to it as one client. */
export interface TokenServer {
  discovery: Discovery;
  requestTokens(params: Record<string, string | undefined>): Promise<TokenResponse>;
}

/**
 * What `login` and `token` share: the Tollgate named by `--url` (see resolveServerUrl), its
 * discovery, then token requests (RFC 6749 §4.1.3, §4.4.2) authenticated as `client`. A refusal
 * of the client's credentials (`invalid_client`) names the options that gave them, which is
 * where the mistake is.
 */
export async function tokenServer(
  urlOption: string | undefined,
  env: NodeJS.ProcessEnv,
  client: OAuthClient,
): Promise<TokenServer> {
  const discovery = await discover(resolveServerUrl(urlOption, env));
  return {
    discovery,
    async requestTokens(params) {
      const body = new URLSearchParams();
      for (const [name, value] of Object.entries(params)) if (value !== undefined) body.set(name, value);
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (client.secret) {
        // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined.
        const basic = `${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret.value)}`;
        headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
      } else {
        body.set('client_id', client.id);
      }
      const response = await send(discovery.token_endpoint, { method: 'POST', headers, body });
      const json = await readJson(response);
      if (!response.ok) {
        throw failure(`the token request was refused: ${describeError(response, json)}${hint(client, json)}`);
      }
      const parsed = tokenResponse.safeParse(json);
      if (!parsed.success) throw failure(`unusable token response (${firstIssue(parsed.error)})`);
      return parsed.data;
    },
  };
}

/**
 * The server's `invalid_client` says only that authentication failed (RFC 6749 §5.2); which of
 * the user's inputs to check is known here alone. A public client is refused the same way when
 * it is in fact confidential and no secret was given.
 */
function hint(client: OAuthClient, body: unknown): string {
  if ((body as { error?: unknown } | null)?.error !== 'invalid_client') return '';
  return client.secret
    ? `; check the client ID given with ${client.idFrom} and the secret given with ${client.secret.from}`
    : `; check ${client.idFrom}, and for a confidential client pipe its secret to --client-secret-stdin`;
}

/** `error: error_description (HTTP 400)` from an RFC 6749 §5.2 body, or the bare status. */
function describeError(response: Response, body: unknown): string {
  const { error, error_description: description } = (body ?? {}) as Record<string, unknown>;
  const status = `HTTP ${response.status}`;
  if (typeof error !== 'string') return `${status} ${response.statusText}`.trim();
  return typeof description === 'string' ? `${error}: ${description} (${status})` : `${error} (${status})`;
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid';
}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const reason =
      error instanceof Error && error.name === 'TimeoutError'
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : (cause ?? (error instanceof Error ? error.message : String(error)));
    const where = URL.parse(url);
    throw failure(
      `cannot reach ${where ? `${where.origin}${where.pathname}` : url}: ${reason}; is Tollgate running there? (choose another with --url)`,
    );
  }
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // A proxy's HTML error page, for example: the status line says enough.
    return {};
  }
}
