import * as client from 'openid-client';
import { Browser, loginThroughForms } from './browser.ts';
import { createApi, createClient, createUser, discover } from './fixtures.ts';
import type { TestInstance } from './instance.ts';

const REDIRECT = 'https://app.example.test/cb';

/** How a relying party asks for a code: which client, authenticated how, sent back where. */
export interface RelyingParty {
  clientId: string;
  /** How the client authenticates when the code is redeemed: client.None() for a public one. */
  auth: client.ClientAuth;
  redirectUri: string;
  /** Default `openid read`. */
  scope?: string;
}

/** An authorization request, with what the relying party keeps to redeem its code. */
export interface AuthorizationRequest {
  url: URL;
  /** The PKCE verifier of the request, for the code exchange. */
  verifier: string;
  /** openid-client's configuration for the client, authenticated as `auth` says. */
  config: client.Configuration;
}

/**
 * The authorization request any relying party makes (code + PKCE S256), built by openid-client
 * from discovery: tests exercise the provider with what real libraries send.
 */
export async function authorizationRequest(
  tg: TestInstance,
  rp: RelyingParty,
): Promise<AuthorizationRequest> {
  const config = await discover(tg, rp.clientId, rp.auth);
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: rp.redirectUri,
    scope: rp.scope ?? 'openid read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  return { url, verifier, config };
}

/**
 * Signs `user` in as a browser would (login and consent forms) on an authorization request of
 * `rp`; returns where the provider finally sent the browser (the redirect URI with the code, or
 * an error) with what redeeming the code takes. The code is left to the caller.
 */
export async function signInThroughBrowser(
  tg: TestInstance,
  rp: RelyingParty,
  user: { username: string; password: string },
): Promise<{ redirect: URL } & Omit<AuthorizationRequest, 'url'>> {
  const { url, verifier, config } = await authorizationRequest(tg, rp);
  const { redirect } = await loginThroughForms(new Browser(), url.toString(), tg.issuer, user);
  return { redirect, verifier, config };
}

/**
 * Signs a user in as a browser would (login form, code + PKCE) through a web client of `api`,
 * creating the API, the client and the user; returns the user's access token and ids.
 */
export async function loggedInUser(
  tg: TestInstance,
  user: { username: string; password: string; roles: string[]; attrs?: Record<string, string> },
  api: { audience: string; create?: boolean },
): Promise<{ accessToken: string; userId: string; clientId: string; config: client.Configuration }> {
  if (api.create !== false) await createApi(tg, { audience: api.audience, scopes: ['read'], alg: 'ES256' });
  const { id: userId } = await createUser(tg, user);
  const web = await createClient(tg, {
    name: `web-${user.username}`,
    grant_types: ['authorization_code'],
    redirect_uris: [REDIRECT],
    scope: 'read',
    api: api.audience,
  });
  const { redirect, verifier, config } = await signInThroughBrowser(
    tg,
    { clientId: web.client_id, auth: client.ClientSecretBasic(web.client_secret), redirectUri: REDIRECT },
    user,
  );
  const tokens = await client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier });
  return { accessToken: tokens.access_token, userId, clientId: web.client_id, config };
}
