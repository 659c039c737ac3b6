import { createHash, randomBytes } from 'node:crypto';
import { Browser, loginThroughForms } from '../../test/helpers/browser.ts';
import { adminApi, basicAuth, requestToken, type TollgateProcess } from './tollgate.ts';

/** The API every benchmark token is for: ES256, five-minute access tokens. */
export const TOKEN_API = 'https://bench.tollgate.test';
const REDIRECT_URI = 'https://app.bench.tollgate.test/callback';

export interface Credentials {
  client_id: string;
  client_secret: string;
}

/** A code and the PKCE verifier it was requested with. */
export interface IssuedCode {
  code: string;
  verifier: string;
}

export interface TokenFixtures {
  /** A client_credentials client of TOKEN_API (scope read). */
  machine: Credentials;
  /** An authorization_code client of TOKEN_API (refresh tokens come with it). */
  web: Credentials;
  redirectUri: string;
  /** A fresh client-credentials access token of `machine`. */
  machineToken(): Promise<string>;
  /** `n` codes of the signed-in user, requested `concurrency` at a time. */
  mintCodes(n: number, concurrency: number): Promise<IssuedCode[]>;
  /** `n` refresh tokens, each from its own consented authorization (offline_access). */
  mintRefreshTokens(n: number): Promise<string[]>;
}

/**
 * Creates, through the admin API: TOKEN_API, the machine client, the web client and a user;
 * signs the user in through the real login form once, so that later authorization requests of
 * the same browser are answered with a code at once (the grant is already consented).
 */
export async function provisionTokenBench(tollgate: TollgateProcess): Promise<TokenFixtures> {
  const admin = await adminApi(tollgate);
  await admin('/apis', { audience: TOKEN_API, scopes: ['read'], alg: 'ES256', ttl: 300 });
  const credentials = (row: Record<string, unknown>): Credentials => ({
    client_id: String(row.client_id),
    client_secret: String(row.client_secret),
  });
  const machine = credentials(
    await admin('/clients', {
      name: 'bench',
      grant_types: ['client_credentials'],
      scope: 'read',
      api: TOKEN_API,
    }),
  );
  const web = credentials(
    await admin('/clients', {
      name: 'bench-web',
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT_URI],
      scope: 'openid offline_access read',
      api: TOKEN_API,
    }),
  );
  const user = { username: 'dana', password: randomBytes(18).toString('base64url') };
  await admin('/users', { ...user, roles: ['viewer'] });

  const browser = new Browser();
  const authorize = (scope: string, extra: Record<string, string> = {}) => {
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(12).toString('base64url');
    const url = new URL('/auth', tollgate.url);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: web.client_id,
      redirect_uri: REDIRECT_URI,
      scope,
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    }).toString();
    return { url: url.toString(), verifier, state };
  };
  const codeOf = (redirect: URL, state: string): string => {
    const code = redirect.searchParams.get('code');
    if (!code || redirect.searchParams.get('state') !== state)
      throw new Error(`authorization did not end with a code: ${redirect.toString()}`);
    return code;
  };
  const signIn = authorize('openid read');
  codeOf((await loginThroughForms(browser, signIn.url, tollgate.url, user)).redirect, signIn.state);

  async function mintCode(): Promise<IssuedCode> {
    const request = authorize('openid read');
    const step = await browser.follow(request.url, tollgate.url);
    if (step.url.startsWith(tollgate.url))
      throw new Error(`authorization asked for a page: ${step.response.status} ${step.url}`);
    return { code: codeOf(new URL(step.url), request.state), verifier: request.verifier };
  }

  return {
    machine,
    web,
    redirectUri: REDIRECT_URI,
    machineToken: () => requestToken(tollgate.url, machine.client_id, machine.client_secret, 'read'),
    async mintCodes(n, concurrency) {
      const codes: IssuedCode[] = [];
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (codes.length < n) codes.push(await mintCode());
        }),
      );
      return codes.slice(0, n);
    },
    async mintRefreshTokens(n) {
      const tokens: string[] = [];
      for (let i = 0; i < n; i++) {
        // offline_access is granted only on an explicit consent (prompt=consent).
        const request = authorize('openid offline_access read', { prompt: 'consent' });
        const { redirect } = await loginThroughForms(browser, request.url, tollgate.url, user);
        const answer = await redeemCode(tollgate.url, web, REDIRECT_URI, {
          code: codeOf(redirect, request.state),
          verifier: request.verifier,
        });
        if (!answer.refresh_token) throw new Error(`no refresh token: ${JSON.stringify(answer)}`);
        tokens.push(answer.refresh_token);
      }
      return tokens;
    },
  };
}

/** The token request body redeeming `issued` (authorization_code with its PKCE verifier). */
export function codeRedemptionBody(issued: IssuedCode, redirectUri: string): string {
  return new URLSearchParams({
    grant_type: 'authorization_code',
    code: issued.code,
    redirect_uri: redirectUri,
    code_verifier: issued.verifier,
  }).toString();
}

async function redeemCode(
  url: string,
  client: Credentials,
  redirectUri: string,
  issued: IssuedCode,
): Promise<{ access_token?: string; refresh_token?: string }> {
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    headers: {
      authorization: basicAuth(client.client_id, client.client_secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: codeRedemptionBody(issued, redirectUri),
  });
  const body = (await response.json()) as { access_token?: string; refresh_token?: string };
  if (response.status !== 200) throw new Error(`code redemption: ${response.status} ${JSON.stringify(body)}`);
  return body;
}
