import type { PolicyProblem } from '../pdp/index.ts';
import { failure } from './errors.ts';
import { type HttpAnswer, type HttpRequest, httpRequest } from './http.ts';
import type { AdminTarget } from './target.ts';
import { TOLLGATE_AUDIENCE } from './wire.ts';

const TIMEOUT_MS = 30_000;

/** The admin HTTP API, authenticated with a fresh admin access token. */
export interface AdminApi {
  /** Calls `/admin<path>`; resolves to the parsed JSON body, or undefined for 204. */
  request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<unknown>;
  /** GETs `/admin<path>` and yields the body as it arrives (no overall timeout: exports can be long). */
  stream(path: string): AsyncIterable<string>;
}

/**
 * Discovers the token endpoint (OIDC Discovery §4), gets an admin token by client credentials
 * (RFC 6749 §4.4) and returns a client for `/admin/*` that sends it as a Bearer token.
 */
export async function connectAdmin(target: AdminTarget): Promise<AdminApi> {
  const discovery = await send(`${target.url}/.well-known/openid-configuration`, { method: 'GET' });
  if (!discovery.ok) {
    throw failure(
      `${target.url} does not look like Tollgate: discovery answered HTTP ${discovery.status} (check --url)`,
    );
  }
  const { token_endpoint: tokenEndpoint } = (await readJson(discovery)) as { token_endpoint?: unknown };
  if (typeof tokenEndpoint !== 'string') throw failure(`${target.url}: discovery names no token_endpoint`);

  // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined for Basic auth.
  const basic = Buffer.from(
    `${encodeURIComponent(target.clientId)}:${encodeURIComponent(target.clientSecret)}`,
  ).toString('base64');
  const tokenResponse = await send(tokenEndpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    // The resource is named so that an admin client whose default API is another one still works.
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'admin',
      resource: TOLLGATE_AUDIENCE,
    }).toString(),
  });
  const token = (await readJson(tokenResponse)) as { access_token?: unknown };
  if (!tokenResponse.ok || typeof token.access_token !== 'string') {
    throw failure(
      `could not get an admin token from ${displayUrl(tokenEndpoint)} with the credentials from ${target.source}: ${describeError(tokenResponse, token)}`,
    );
  }
  const accessToken = token.access_token;

  return {
    async request(method, path, body) {
      const response = await send(`${target.url}/admin${path}`, {
        method,
        headers: {
          authorization: `Bearer ${accessToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status === 204) return undefined;
      const parsed = await readJson(response);
      if (!response.ok) {
        const details = await detailLines(parsed);
        throw failure(
          [`${method} /admin${path} failed: ${describeError(response, parsed)}`, ...details].join('\n'),
          // A rejected policy push is a verdict (its problems, its failing cases): JSON for --json.
          details.length > 0 ? parsed : undefined,
        );
      }
      return parsed;
    },

    async *stream(path) {
      const response = await send(
        `${target.url}/admin${path}`,
        { method: 'GET', headers: { authorization: `Bearer ${accessToken}` } },
        false,
      );
      if (!response.ok) {
        const parsed = await readJson(response);
        throw failure(`GET /admin${path} failed: ${describeError(response, parsed)}`);
      }
      const decoder = new TextDecoder();
      for await (const chunk of response.body) yield decoder.decode(chunk, { stream: true });
      const rest = decoder.decode();
      if (rest) yield rest;
    },
  };
}

async function send(url: string, init: HttpRequest, timeout = true): Promise<HttpAnswer> {
  try {
    return await httpRequest(url, timeout ? { ...init, timeoutMs: TIMEOUT_MS } : init);
  } catch (error) {
    throw failure(
      `cannot reach ${displayUrl(url)}: ${networkReason(error)}; is Tollgate running there? (choose another with --url)`,
    );
  }
}

async function readJson(response: HttpAnswer): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // A proxy's HTML error page, for example: the status line says enough.
    return {};
  }
}

/** `error: error_description (HTTP 400)` from an RFC 6749 §5.2 body, or the bare status. */
function describeError(response: HttpAnswer, body: unknown): string {
  const { error, error_description: description } = (body ?? {}) as Record<string, unknown>;
  const status = `HTTP ${response.status}`;
  if (typeof error !== 'string') return `${status} ${response.statusText}`.trim();
  return typeof description === 'string' ? `${error}: ${description} (${status})` : `${error} (${status})`;
}

/** Lines for the problems and failing tests a rejected policy push carries. */
async function detailLines(body: unknown): Promise<string[]> {
  const { problems, failures } = (body ?? {}) as { problems?: unknown; failures?: unknown };
  const lines: string[] = [];
  if (Array.isArray(problems) && problems.length > 0) {
    // Loaded only here: the policy compiler is heavy, and only a rejected push needs it.
    const { formatProblem } = await import('../pdp/index.ts');
    for (const p of problems) lines.push(`  ${formatProblem(p as PolicyProblem)}`);
  }
  for (const f of Array.isArray(failures) ? failures : []) {
    const { file, name, expected, actual } = f as {
      file: string;
      name: string;
      expected: { allow: boolean };
      actual: { allow: boolean; reason: string };
    };
    lines.push(
      `  ${file} "${name}": expected ${expected.allow ? 'allow' : 'deny'}, got ${actual.allow ? 'allow' : 'deny'} (${actual.reason})`,
    );
  }
  return lines;
}

function networkReason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
    return `no answer within ${TIMEOUT_MS / 1000} s`;
  const { code } = error as { code?: unknown };
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}

/** The URL without query or userinfo, so nothing sensitive reaches the terminal. */
function displayUrl(value: string): string {
  const url = URL.parse(value);
  return url ? `${url.origin}${url.pathname}` : value;
}
