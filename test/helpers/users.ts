import * as client from 'openid-client';
import { Browser, loginThroughForms } from './browser.ts';
import { createApi, createClient, createUser, discover } from './fixtures.ts';
import type { TestInstance } from './instance.ts';

const REDIRECT = 'https://app.example.test/cb';

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
  const config = await discover(tg, web.client_id, client.ClientSecretBasic(web.client_secret));
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid read',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const { redirect } = await loginThroughForms(new Browser(), url.toString(), tg.issuer, user);
  const tokens = await client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier });
  return { accessToken: tokens.access_token, userId, clientId: web.client_id, config };
}
