import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import * as client from 'openid-client';
import { digestSecret } from '../../src/common/index.ts';
import { Browser, formAction, formField } from '../helpers/browser.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { createApi, createClient, createMachineClient, createUser, discover } from '../helpers/fixtures.ts';
import { askAsTraefik } from '../helpers/forward-auth.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';
import { loggedInUser } from '../helpers/users.ts';

/**
 * Issue 9 §10: what the README promises about limits, the admin API, stored secrets, the login
 * pages and userinfo, each proved by doing what an attacker would.
 */

const API = 'https://claims.example.test';
const REDIRECT = 'https://app.example.test/cb';
// Set and required by .ci/run (TOLLGATE_TEST_REQUIRE), so CI never skips these; elsewhere they skip without Redis.
const REDIS_URL = process.env.TOLLGATE_TEST_REDIS_URL;

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function postForm(url: string, auth: string, form: Record<string, string>) {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
}

describe('README claims on one instance', () => {
  let tg: TestInstance;
  let decideToken: string;

  before(async () => {
    tg = await startTestInstance({ CLIENT_AUTH_MAX_FAILURES: '3' });
    await createApi(tg, { audience: API, scopes: ['read'], alg: 'ES256' });
    const { config } = await createMachineClient(tg, {
      name: 'caller',
      scope: 'decide',
      api: 'urn:tollgate',
    });
    decideToken = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
  });
  after(() => tg.close());

  for (const endpoint of ['/token/introspection', '/token/revocation']) {
    it(`limits guessing a client secret at ${endpoint}: 429 with Retry-After, the right secret included`, async () => {
      const victim = await createClient(tg, {
        name: `resource-server-${endpoint}`,
        grant_types: ['client_credentials'],
        scope: 'read',
        api: API,
      });
      const url = `${tg.url}${endpoint}`;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await postForm(url, basic(victim.client_id, 'wrong'), { token: 'x' })).status);
      assert.deepEqual(statuses, [401, 401, 401]);
      const limited = await postForm(url, basic(victim.client_id, victim.client_secret ?? ''), {
        token: 'x',
      });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      assert.equal(((await limited.json()) as { error: string }).error, 'too_many_requests');
    });
  }

  describe('every admin route family refuses a token without the admin scope', () => {
    const routes: [string, string][] = [
      ['GET', '/admin/clients'],
      ['POST', '/admin/clients'],
      ['DELETE', '/admin/clients/cl_x'],
      ['GET', '/admin/users'],
      ['POST', '/admin/users'],
      ['DELETE', '/admin/users/u_x'],
      ['GET', '/admin/apis'],
      ['POST', '/admin/apis'],
      ['GET', '/admin/keys'],
      ['POST', '/admin/keys/rotate'],
      ['GET', '/admin/policies'],
      ['POST', '/admin/policies'],
      ['GET', '/admin/gateways'],
      ['POST', '/admin/gateways'],
      ['DELETE', '/admin/gateways/edge'],
      ['GET', '/admin/audit'],
      ['GET', '/admin/audit/verify'],
      ['GET', '/admin/audit/export'],
    ];
    for (const [method, path] of routes) {
      it(`${method} ${path}: 401 without a token, 403 with a decide-only token`, async () => {
        const body = method === 'POST' ? JSON.stringify({}) : undefined;
        const headers = { 'content-type': 'application/json' };
        const anonymous = await fetch(`${tg.url}${path}`, { method, headers, body });
        assert.equal(anonymous.status, 401);
        const decideOnly = await fetch(`${tg.url}${path}`, {
          method,
          headers: { ...headers, authorization: `Bearer ${decideToken}` },
          body,
        });
        assert.equal(decideOnly.status, 403);
        assert.equal(((await decideOnly.json()) as { error: string }).error, 'insufficient_scope');
      });
    }
  });

  it('stores a client secret only as its digest: the row holds nothing a reader could present', async () => {
    const created = await createClient(tg, {
      name: 'stored-secret',
      grant_types: ['client_credentials'],
      scope: 'read',
      api: API,
    });
    const secret = created.client_secret ?? '';
    assert.ok(secret.length >= 43);
    const row = await tg.tollgate.db.db
      .selectFrom('clients')
      .selectAll()
      .where('client_id', '=', created.client_id)
      .executeTakeFirstOrThrow();
    assert.equal(row.secret_digest, digestSecret(secret));
    assert.ok(!JSON.stringify(row).includes(secret), 'the secret itself is nowhere in the row');
    const payloads = await sql<{ n: number }>`
      select count(*)::int as n from oidc_payloads where payload::text like ${`%${secret}%`}`.execute(
      tg.tollgate.db.db,
    );
    assert.equal(payloads.rows[0]?.n, 0);
    // And the digest is not itself a credential.
    const withDigest = await requestToken(
      tg.url,
      { client_id: created.client_id, client_secret: row.secret_digest ?? '' },
      { scope: 'read' },
    );
    assert.equal(withDigest.status, 401);
  });

  it('refuses an API access token at userinfo (/me)', async () => {
    const { accessToken } = await loggedInUser(
      tg,
      { username: 'uma', password: 'uma password', roles: [] },
      { audience: API, create: false },
    );
    const response = await fetch(`${tg.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(response.status, 401);
    assert.match(response.headers.get('www-authenticate') ?? '', /invalid_token/);
  });

  describe('CSRF on the consent form', () => {
    /** Signs in through the login form and stops at the consent page; returns its form. */
    async function atConsent(username: string) {
      const web = await createClient(tg, {
        name: `consent-${username}`,
        grant_types: ['authorization_code'],
        redirect_uris: [REDIRECT],
        scope: 'read',
        api: API,
      });
      const config = await discover(tg, web.client_id, client.ClientSecretBasic(web.client_secret));
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid read',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const browser = new Browser();
      const login = await browser.follow(url.toString(), tg.issuer);
      const loginHtml = await login.response.text();
      const consent = await browser.follow(
        new URL(formAction(loginHtml, 'login'), tg.issuer).toString(),
        tg.issuer,
        { form: { csrf: formField(loginHtml, 'csrf'), username, password: `${username} password` } },
      );
      const html = await consent.response.text();
      assert.match(html, /action="[^"]*\/confirm"/, 'the consent page is shown');
      return {
        browser,
        confirm: new URL(formAction(html, 'confirm'), tg.issuer).toString(),
        csrf: formField(html, 'csrf'),
      };
    }

    it('refuses a consent post without the CSRF token, or with the token of another sign-in', async () => {
      for (const username of ['vera', 'walt'])
        await createUser(tg, { username, password: `${username} password` });
      const victim = await atConsent('vera');
      const attacker = await atConsent('walt');

      const forms: Record<string, string>[] = [{}, { csrf: attacker.csrf }, { csrf: 'x'.repeat(43) }];
      for (const form of forms) {
        const forged = await victim.browser.request(victim.confirm, { form });
        assert.equal(forged.status, 403, JSON.stringify(form));
        assert.equal(forged.headers.get('location'), null, 'no redirect carrying a code');
      }
      // The real page's own token still works: the refusals above were the CSRF check.
      const genuine = await victim.browser.follow(victim.confirm, tg.issuer, { form: { csrf: victim.csrf } });
      assert.match(genuine.url, /^https:\/\/app\.example\.test\/cb\?code=/);
    });
  });

  it('denies a subject token revoked over HTTP by its own client at /token/revocation', async () => {
    // The web client that signed xena in revokes her token as any relying party would (RFC 7009).
    const xena = await loggedInUser(
      tg,
      { username: 'xena', password: 'xena password', roles: ['accountant'] },
      { audience: API, create: false },
    );
    const decide = async () => {
      const response = await fetch(`${tg.url}/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${decideToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: { token: xena.accessToken },
          action: 'read',
          resource: { type: 'Invoice', id: 'inv_1', attrs: {} },
        }),
      });
      return (await response.json()) as { allow: boolean; reason: string; detail?: string };
    };
    assert.notEqual((await decide()).detail, 'revoked');
    await client.tokenRevocation(xena.config, xena.accessToken);
    const { reason, detail } = await decide();
    assert.deepEqual({ reason, detail }, { reason: 'subject_token_invalid', detail: 'revoked' });
  });
});

describe('limits without Redis', () => {
  let tg: TestInstance;
  let token: string;

  before(async () => {
    // A Redis that is not there: the limits fall back to this process (rate-limiter-flexible's insurance).
    tg = await startTestInstance({
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      DECIDE_RATE_LIMIT: '3',
    });
    const { config } = await createMachineClient(tg, {
      name: 'caller',
      scope: 'decide',
      api: 'urn:tollgate',
    });
    token = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
  });
  after(() => tg.close());

  it('still limits /decide in memory while Redis is unreachable', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${tg.url}/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: { id: 'u1', roles: [], attrs: {} },
          action: 'read',
          resource: { type: 'Invoice', attrs: {} },
        }),
      });
      statuses.push(response.status);
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.ok(
      statuses.slice(3).every((s) => s === 429),
      statuses.join(','),
    );
  });
});

describe('forward-auth limits per gateway, shared across instances through Redis', {
  skip: skipUnless('redis'),
}, () => {
  let a: TestInstance;
  let b: TestInstance;
  // The same gateway name on both instances is the same limited party, as in one deployment.
  const name = `edge-${randomBytes(4).toString('hex')}`;
  const keys = new Map<TestInstance, { edge: string; other: string }>();

  before(async () => {
    const env = { REDIS_URL: REDIS_URL ?? '', DECIDE_RATE_LIMIT: '4' };
    a = await startTestInstance(env);
    b = await startTestInstance(env);
    for (const tg of [a, b]) {
      const mint = async (gateway: string) => {
        const response = await tg.admin$('POST', '/gateways', { name: gateway, apis: [API] });
        assert.equal(response.status, 201, await response.clone().text());
        return ((await response.json()) as { key: string }).key;
      };
      await createApi(tg, { audience: API, scopes: ['read'] });
      keys.set(tg, { edge: await mint(name), other: await mint(`${name}-other`) });
    }
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  const ask = (tg: TestInstance, key: string) => askAsTraefik(tg.url, key);

  it('counts a gateway’s forward-auth requests against DECIDE_RATE_LIMIT on every instance, sparing other gateways', async () => {
    const atA: number[] = [];
    for (let i = 0; i < 4; i++) atA.push((await ask(a, keys.get(a)?.edge ?? '')).status);
    assert.ok(!atA.includes(429), `within the limit at A: ${atA.join(',')}`);
    const atB = await ask(b, keys.get(b)?.edge ?? '');
    assert.equal(atB.status, 429, 'the fifth request, at B, is over the shared limit');
    assert.ok(Number(atB.headers.get('retry-after')) >= 1);
    assert.notEqual((await ask(b, keys.get(b)?.other ?? '')).status, 429, 'another gateway is not limited');
  });
});
