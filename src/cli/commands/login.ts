import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { flag, optionalString, requiredString } from '../args.ts';
import type { Command } from '../command.ts';
import { failure, usageError } from '../errors.ts';
import { listenForRedirect } from '../loopback.ts';
import { type TokenResponse, tokenServer } from '../oauth.ts';
import { readPipedSecret } from '../prompt.ts';

const DEFAULT_TIMEOUT_S = 300;

/**
 * `tollgate login`: a user's access token in one command, as `hydra perform
 * authorization-code` does. Authorization code + PKCE (RFC 7636, S256) with a loopback
 * redirect (RFC 8252 §7.3), for a public client or, given its secret, a confidential one. Plain
 * output is the access token alone on stdout, so `USER_TOKEN=$(tollgate login …)` works; the
 * rest goes to stderr.
 */
const login: Command = {
  path: ['login'],
  options: {
    client: { type: 'string' },
    'client-secret-stdin': { type: 'boolean' },
    scope: { type: 'string' },
    api: { type: 'string' },
    port: { type: 'string' },
    timeout: { type: 'string' },
    'no-browser': { type: 'boolean' },
  },
  synopsis:
    '--client CLIENT_ID [--client-secret-stdin] [--scope "openid a b"] [--api AUDIENCE] [--port N] [--timeout S] [--no-browser]',
  summary: "sign a user in through the browser and print the user's access token",
  details: [
    '--client ID              a public client with redirect URI http://127.0.0.1/callback, e.g.',
    '                         tollgate client create --name cli --grant authorization_code --public \\',
    '                           --redirect-uri http://127.0.0.1/callback --api AUDIENCE --scope "a b"',
    '                         (it may come back on any port); or a confidential client, see below',
    '--client-secret-stdin    needed for a confidential client (one created without --public): its',
    '                         secret, read from stdin, authenticates the code exchange',
    '                         (client_secret_basic); needs --port, e.g.',
    '                         printf %s "$SECRET" | tollgate login --client ID --client-secret-stdin --port 8400',
    '--scope                  the scopes to ask for (default "openid"); name the API scopes the token needs',
    '--api AUD                the API the token is for (RFC 8707 resource), when the client has several',
    '--port N                 listen on this loopback port (default: any free port); needed for a client',
    '                         that is not a public loopback one (a confidential client, or',
    '                         application_type web), whose redirect URI must match exactly: register',
    '                         http://127.0.0.1:N/callback and pass --port N',
    '--timeout S              how long to wait for the browser (default 300 s)',
    '--no-browser             print the URL only, do not open a browser',
    'Prints the access token alone on stdout: USER_TOKEN=$(tollgate login --client ID ...);',
    'with --json, the whole token response (access, refresh and ID tokens).',
  ],
  async run({ values, url: urlOption }, ctx) {
    const command = 'login';
    const clientId = requiredString(values, 'client', command);
    const scope = optionalString(values, 'scope') ?? 'openid';
    const resource = optionalString(values, 'api');
    const port = wholeNumber(values, 'port', 0, 0, 65535, command);
    const timeoutMs = wholeNumber(values, 'timeout', DEFAULT_TIMEOUT_S, 1, 3600, command) * 1000;
    const confidential = flag(values, 'client-secret-stdin');
    // A confidential client is never a native app: its redirect URI is matched exactly, port
    // included, so a port the OS picks could never match and the login would only time out.
    if (confidential && port === 0) {
      throw usageError(
        "--client-secret-stdin needs --port N: a confidential client's redirect URI must match exactly (register http://127.0.0.1:N/callback)",
        command,
      );
    }
    // Read before anything listens or calls the server: a missing secret is a usage error.
    const secret = confidential
      ? { value: await readPipedSecret(ctx, command, 'client-secret-stdin'), from: '--client-secret-stdin' }
      : undefined;
    const server = await tokenServer(urlOption, ctx.env, { id: clientId, idFrom: '--client', secret });
    const { discovery } = server;

    // RFC 7636 §4.1-4.2: a 256-bit verifier and its S256 challenge; state binds the callback.
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const loopback = await listenForRedirect(port);
    try {
      const authorization = new URL(discovery.authorization_endpoint);
      for (const [name, value] of Object.entries({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: loopback.redirectUri,
        scope,
        state,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource,
      })) {
        if (value !== undefined) authorization.searchParams.set(name, value);
      }
      // The command's only terminal channel besides stdout, which carries the token alone.
      const say = (text: string) => process.stderr.write(`${text}\n`);
      say(
        `Open this URL in a browser to sign in (waiting up to ${timeoutMs / 1000} s):\n\n  ${authorization}\n`,
      );
      if (!flag(values, 'no-browser')) openBrowser(authorization.toString(), ctx.env);

      const { code, iss } = await loopback.response(state, timeoutMs);
      // RFC 9207 §2.4: a response from another issuer (a mix-up attack) is not redeemed here.
      if (
        iss !== discovery.issuer &&
        (iss !== undefined || discovery.authorization_response_iss_parameter_supported)
      ) {
        throw failure(`the login callback came from issuer ${iss ?? '(none)'}, expected ${discovery.issuer}`);
      }
      const tokens = await server.requestTokens({
        grant_type: 'authorization_code',
        code,
        redirect_uri: loopback.redirectUri,
        code_verifier: verifier,
        resource,
      });
      say(summary(tokens, ctx.out.json));
      ctx.out.result(tokens, () => tokens.access_token);
    } finally {
      loopback.close();
    }
  },
};

function summary(tokens: TokenResponse, json: boolean): string {
  const parts = [
    tokens.expires_in === undefined ? undefined : `expires in ${tokens.expires_in} s`,
    tokens.scope ? `scope "${tokens.scope}"` : undefined,
  ].filter(Boolean);
  const what = json ? 'token response' : 'access token';
  return `Signed in: ${what}${parts.length ? ` (${parts.join(', ')})` : ''} on stdout.`;
}

/** An option holding a whole number within bounds, or `fallback` when absent. */
function wholeNumber(
  values: Parameters<typeof optionalString>[0],
  option: string,
  fallback: number,
  min: number,
  max: number,
  command: string,
): number {
  const text = optionalString(values, option);
  if (text === undefined) return fallback;
  const value = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max)) {
    throw usageError(`--${option} must be a whole number from ${min} to ${max}`, command);
  }
  return value;
}

/**
 * Opens the URL where a desktop is there to show it; elsewhere (SSH, containers, CI) the printed
 * URL is the way. The URL is passed as one argument, never through a shell.
 */
function openBrowser(url: string, env: NodeJS.ProcessEnv): void {
  const opener =
    process.platform === 'darwin'
      ? 'open'
      : process.platform === 'linux' && (env.DISPLAY || env.WAYLAND_DISPLAY)
        ? 'xdg-open'
        : undefined;
  if (!opener) return;
  const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
  child.on('error', () => {});
  child.unref();
}

export const loginCommands: readonly Command[] = [login];
