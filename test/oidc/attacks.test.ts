import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JWK,
  SignJWT,
  UnsecuredJWT,
} from 'jose';
import * as client from 'openid-client';
import { Browser, formAction, formField, loginThroughForms } from '../helpers/browser.ts';
import { createApi, createClient, createMachineClient, createUser, discover } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const API = 'https://orders.example.test';
const REDIRECT = 'https://app.example.test/callback';

/** Each test is an attack that must fail. */
describe('attacks on the token service', () => {
  let tg: TestInstance;
  let web: { client_id: string; client_secret?: string };
  let config: client.Configuration;

  before(async () => {
    tg = await startTestInstance();
    await createApi(tg, { audience: API, scopes: ['read'], alg: 'RS256', ttl: 300 });
    await createUser(tg, { username: 'bob', password: 'bob password 1' });
    web = await createClient(tg, {
      name: 'web',
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
      scope: 'read',
      api: API,
    });
    config = await discover(tg, web.client_id, client.ClientSecretBasic(web.client_secret));
  });
  after(() => tg.close());

  function authorizeUrl(params: Record<string, string>): string {
    const url = new URL(`${tg.url}/auth`);
    const defaults = {
      client_id: web.client_id,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid read',
      state: 's1',
    };
    for (const [k, v] of Object.entries({ ...defaults, ...params })) if (v !== '') url.searchParams.set(k, v);
    return url.toString();
  }

  async function errorRedirect(params: Record<string, string>): Promise<URL> {
    const response = await fetch(authorizeUrl(params), { redirect: 'manual' });
    assert.equal(response.status, 303);
    return new URL(response.headers.get('location') ?? '');
  }

  async function codeFor(verifier: string): Promise<URL> {
    const url = authorizeUrl({
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      prompt: 'consent',
      scope: 'openid offline_access read',
    });
    return (
      await loginThroughForms(new Browser(), url, tg.issuer, { username: 'bob', password: 'bob password 1' })
    ).redirect;
  }

  async function adminStatus(token: string): Promise<number> {
    return (await fetch(`${tg.url}/admin/clients`, { headers: { authorization: `Bearer ${token}` } })).status;
  }

  it('refuses an authorization request without code_challenge', async () => {
    const location = await errorRedirect({});
    assert.equal(location.origin + location.pathname, REDIRECT);
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description') ?? '', /PKCE/);
    assert.equal(location.searchParams.get('code'), null);
  });

  it('refuses code_challenge_method=plain', async () => {
    const location = await errorRedirect({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.match(location.searchParams.get('error_description') ?? '', /code_challenge_method/);
  });

  it('refuses a code redeemed with the wrong code_verifier', async () => {
    const redirect = await codeFor(client.randomPKCECodeVerifier());
    await assert.rejects(
      client.authorizationCodeGrant(config, redirect, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: 's1',
      }),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
  });

  it('refuses a code used twice and revokes what the first use issued', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const redirect = await codeFor(verifier);
    const tokens = await client.authorizationCodeGrant(config, redirect, {
      pkceCodeVerifier: verifier,
      expectedState: 's1',
    });
    await assert.rejects(
      client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier, expectedState: 's1' }),
      (error: client.ResponseBodyError) => error.error === 'invalid_grant',
    );
    assert.equal((await client.tokenIntrospection(config, tokens.refresh_token ?? '')).active, false);
  });

  for (const [name, uri] of [
    ['an unregistered host', 'https://evil.example.test/callback'],
    ['an extra path', `${REDIRECT}/extra`],
    ['an extra query', `${REDIRECT}?next=https://evil.example.test`],
    ['a different scheme', REDIRECT.replace('https:', 'http:')],
  ] as const) {
    it(`never redirects to a redirect_uri with ${name}`, async () => {
      const response = await fetch(
        authorizeUrl({
          redirect_uri: uri,
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        }),
        { redirect: 'manual' },
      );
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('location'), null);
      assert.match(await response.text(), /redirect_uri/);
    });
  }

  it('refuses a wrong client secret', async () => {
    const wrong = await discover(tg, web.client_id, client.ClientSecretBasic('not-the-secret'));
    await assert.rejects(
      client.clientCredentialsGrant(wrong, {}),
      (error: client.WWWAuthenticateChallengeError) => {
        assert.equal(error.status, 401);
        assert.equal(error.cause[0]?.parameters.error, 'invalid_client');
        return true;
      },
    );
    const response = await fetch(`${tg.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: tg.admin.client_id,
        client_secret: `${tg.admin.client_secret}x`,
      }),
    });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_client');
  });

  describe('forged and stale access tokens', () => {
    let genuine: string;
    let claims: Record<string, unknown>;

    before(async () => {
      genuine = await tg.adminToken();
      claims = decodeJwt(genuine);
      assert.equal(await adminStatus(genuine), 200);
    });

    async function introspect(token: string) {
      return client.tokenIntrospection(config, token);
    }

    it('rejects alg "none"', async () => {
      const forged = new UnsecuredJWT(claims)
        .encode()
        .replace(/^[^.]+/, Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url'));
      assert.equal(decodeProtectedHeader(forged).alg, 'none');
      assert.equal((await introspect(forged)).active, false);
      assert.equal(await adminStatus(forged), 401);
    });

    it('rejects HS256 signed with the public key (algorithm confusion)', async () => {
      const jwks = (await (await fetch(`${tg.url}/jwks`)).json()) as { keys: JWK[] };
      for (const jwk of jwks.keys) {
        const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({
          type: 'spki',
          format: 'pem',
        });
        const forged = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid })
          .sign(new TextEncoder().encode(String(pem)));
        assert.equal((await introspect(forged)).active, false);
        assert.equal(await adminStatus(forged), 401);
      }
    });

    it('rejects a token signed by a foreign key that claims our kid', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: decodeProtectedHeader(genuine).kid })
        .sign(privateKey);
      assert.equal((await introspect(forged)).active, false);
      assert.equal(await adminStatus(forged), 401);
    });

    it('rejects an expired token at introspection and at the admin API', async () => {
      const kid = decodeProtectedHeader(genuine).kid;
      const ringKey = tg.tollgate.ring.signingKeys().find((k) => k.kid === kid);
      assert.ok(ringKey);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ ...claims, iat: now - 600, exp: now - 300 })
        .setProtectedHeader({ alg: ringKey.alg, typ: 'at+jwt', kid })
        .sign(ringKey.privateKey);
      assert.equal((await introspect(expired)).active, false);
      const response = await fetch(`${tg.url}/admin/clients`, {
        headers: { authorization: `Bearer ${expired}` },
      });
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /invalid_token.*expired/);
    });

    it('rejects a token whose signature was tampered with', async () => {
      const [header, payload] = genuine.split('.');
      const elevated = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
      assert.equal((await introspect(`${header}.${elevated}.${genuine.split('.')[2]}`)).active, false);
      assert.ok(payload);
    });
  });

  describe('the admin API', () => {
    it('answers 401 with a Bearer challenge without a token', async () => {
      const response = await fetch(`${tg.url}/admin/clients`);
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
      assert.deepEqual(Object.keys((await response.json()) as object).sort(), ['error', 'error_description']);
    });

    it('answers 403 to a valid token without the admin scope', async () => {
      const { config: gwConfig } = await createMachineClient(tg, {
        name: 'gw',
        scope: 'decide',
        api: 'urn:tollgate',
      });
      const { access_token } = await client.clientCredentialsGrant(gwConfig, { scope: 'decide' });
      const response = await fetch(`${tg.url}/admin/clients`, {
        headers: { authorization: `Bearer ${access_token}` },
      });
      assert.equal(response.status, 403);
      assert.match(response.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    });

    it('answers 401 to a token issued for another API', async () => {
      const { config: svcConfig } = await createMachineClient(tg, {
        name: 'svc',
        scope: 'read',
        api: API,
      });
      const { access_token } = await client.clientCredentialsGrant(svcConfig, { scope: 'read' });
      assert.equal(await adminStatus(access_token), 401);
    });

    it('names the offending field on bad input and never answers 500', async () => {
      const response = await tg.admin$('POST', '/apis', { audience: 'not a url', scopes: [], ttl: 99999 });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { error: string; error_description: string };
      assert.equal(body.error, 'invalid_request');
      assert.match(body.error_description, /audience/);
      assert.match(body.error_description, /scopes/);
      assert.match(body.error_description, /ttl/);
      const garbage = await fetch(`${tg.url}/admin/apis`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await tg.adminToken()}`, 'content-type': 'application/json' },
        body: '{"audience": ',
      });
      assert.equal(garbage.status, 400);
    });
  });

  describe('the login form', () => {
    async function loginPage() {
      const browser = new Browser();
      const url = authorizeUrl({
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      });
      const step = await browser.follow(url, tg.issuer);
      const html = await step.response.text();
      return { browser, html, action: new URL(formAction(html, 'login'), tg.issuer).toString() };
    }

    it('answers a wrong password with 401 and a clear message, and never with a code', async () => {
      const { browser, html, action } = await loginPage();
      const response = await browser.request(action, {
        form: { csrf: formField(html, 'csrf'), username: 'bob', password: 'wrong' },
      });
      assert.equal(response.status, 401);
      assert.match(await response.text(), /Invalid username or password/);
    });

    it('refuses a login post without the CSRF token', async () => {
      const { browser, action } = await loginPage();
      const response = await browser.request(action, {
        form: { username: 'bob', password: 'bob password 1' },
      });
      assert.equal(response.status, 403);
    });

    it('serves the pages with a script-free Content-Security-Policy and no framing', async () => {
      const browser = new Browser();
      const url = authorizeUrl({
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      });
      const { response } = await browser.follow(url, tg.issuer);
      const csp = response.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(response.headers.get('x-frame-options'), 'DENY');
      assert.doesNotMatch(await response.text(), /<script/i);
    });
  });

  it('exports nothing secret in JWKS', async () => {
    const jwks = (await (await fetch(`${tg.url}/jwks`)).json()) as { keys: JWK[] };
    assert.ok(jwks.keys.length >= 2);
    for (const key of jwks.keys) {
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
        assert.equal(key[secret as keyof JWK], undefined);
    }
    assert.ok(await exportJWK((await generateKeyPair('ES256')).publicKey));
  });
});
