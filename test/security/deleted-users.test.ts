import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { GATEWAY_POLICIES } from '../gateway/gateway-fixtures.ts';
import { attemptLogin, Browser, loginThroughForms } from '../helpers/browser.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { createCluster } from '../helpers/cluster.ts';
import { createApi, createClient, createMachineClient, createUser, discover } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';
import { loggedInUser } from '../helpers/users.ts';

// Issue 9 §6: deleting or disabling a user must end every token they hold, at once and on
// every instance, not when the tokens expire.

const API = 'https://shop.example.test';
const REDIRECT = 'https://app.example.test/cb';
const ENV = { SUBJECT_TOKEN_AUDIENCES: API, AUDIT_FLUSH_MS: '50' };

interface Credentials {
  client_id: string;
  client_secret?: string;
}

/** What a signed-in user holds: a JWT for the API, a refresh token, an opaque userinfo token. */
interface Held {
  userId: string;
  apiToken: string;
  refreshToken: string;
  userinfoToken: string;
}

const basic = (c: Credentials) =>
  `Basic ${Buffer.from(`${c.client_id}:${c.client_secret ?? ''}`).toString('base64')}`;

/** A Tollgate with the gateway policies, a gateway key, a /decide caller and two user clients. */
async function setUp(tg: TestInstance, first = true) {
  if (first) {
    const pushed = await tg.admin$('POST', '/policies', { files: GATEWAY_POLICIES });
    assert.equal(pushed.status, 201);
    await createApi(tg, { audience: API, scopes: ['read'], alg: 'ES256' });
  }
  const gateway = await tg.admin$('POST', '/gateways', { name: `edge-${first ? 'a' : 'b'}`, apis: [API] });
  const { key: gatewayKey } = (await gateway.json()) as { key: string };
  const { created } = await createMachineClient(tg, {
    name: `pdp-caller-${first ? 'a' : 'b'}`,
    scope: 'decide',
    api: 'urn:tollgate',
  });
  const caller = (
    (await (await requestToken(tg.url, created, { scope: 'decide' })).json()) as {
      access_token: string;
    }
  ).access_token;
  return { gatewayKey, caller };
}

describe('deleted and disabled users lose their tokens at once', () => {
  let tg: TestInstance;
  let gatewayKey: string;
  let caller: string;
  let web: Credentials;
  let profile: Credentials;
  /** The API's resource server: granted introspection of its tokens (issue 9 §6). */
  let resourceServer: Credentials;
  let users = 0;

  before(async () => {
    tg = await startTestInstance(ENV);
    ({ gatewayKey, caller } = await setUp(tg));
    web = await createClient(tg, {
      name: 'shop-web',
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
      scope: 'read',
      api: API,
    });
    profile = await createClient(tg, {
      name: 'profile-only',
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
    });
    resourceServer = await createClient(tg, {
      name: 'shop-api',
      grant_types: ['client_credentials'],
      grants: [{ api: API, scopes: ['read'], introspect: true }],
    });
  });
  after(() => tg?.close());

  /** Code + PKCE through the real login form (consent, so offline_access gives a refresh token). */
  async function signIn(at: TestInstance, credentials: Credentials, scope: string, username: string) {
    const config = await discover(
      at,
      credentials.client_id,
      client.ClientSecretBasic(credentials.client_secret),
    );
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      prompt: 'consent',
    });
    const { redirect } = await loginThroughForms(new Browser(), url.toString(), at.issuer, {
      username,
      password: `${username} password`,
    });
    return client.authorizationCodeGrant(config, redirect, { pkceCodeVerifier: verifier });
  }

  /** A new user, signed in twice: for the API (with a refresh token) and for userinfo only. */
  async function signedInUser(at = tg): Promise<Held & { username: string }> {
    users += 1;
    const username = `user${users}`;
    const { id: userId } = await createUser(tg, {
      username,
      password: `${username} password`,
      roles: ['accountant'],
      attrs: { tenant: 'acme' },
    });
    const api = await signIn(at, web, 'openid offline_access read', username);
    const oidcOnly = await signIn(at, profile, 'openid profile', username);
    assert.ok(api.refresh_token);
    return {
      username,
      userId,
      apiToken: api.access_token,
      refreshToken: api.refresh_token,
      userinfoToken: oidcOnly.access_token,
    };
  }

  const introspect = async (at: TestInstance, credentials: Credentials, token: string) => {
    const response = await fetch(`${at.url}/token/introspection`, {
      method: 'POST',
      headers: { authorization: basic(credentials), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { active: boolean }).active;
  };
  const decide = async (at: TestInstance, token: string, as = caller) => {
    const response = await fetch(`${at.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${as}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        subject: { token },
        action: 'read',
        resource: { type: 'Invoice', id: 'inv_1', attrs: { tenant: 'acme' } },
      }),
    });
    assert.equal(response.status, 200);
    return (await response.json()) as { allow: boolean; reason?: string; detail?: string };
  };
  const forward = async (at: TestInstance, token: string, key = gatewayKey) =>
    (
      await fetch(`${at.url}/decide/forward/nginx`, {
        headers: {
          'x-tollgate-gateway-key': key,
          'x-original-method': 'GET',
          'x-original-uri': '/tenants/acme/invoices/1',
          authorization: `Bearer ${token}`,
        },
      })
    ).status;
  const refresh = async (refreshToken: string) => {
    const response = await fetch(`${tg.url}/token`, {
      method: 'POST',
      headers: { authorization: basic(web), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const userinfo = (token: string) =>
    fetch(`${tg.url}/me`, { headers: { authorization: `Bearer ${token}` } });

  /** Everything a signed-in user holds works. */
  async function assertLive(held: Held) {
    assert.equal(await introspect(tg, web, held.apiToken), true);
    assert.equal((await decide(tg, held.apiToken)).allow, true);
    assert.equal(await forward(tg, held.apiToken), 200);
    assert.equal((await userinfo(held.userinfoToken)).status, 200);
  }

  /** Nothing the user held works any more, each endpoint answering in its own contract. */
  async function assertDead(held: Held) {
    assert.equal(await introspect(tg, web, held.apiToken), false, 'JWT access token still active');
    assert.equal(await introspect(tg, profile, held.userinfoToken), false, 'opaque token still active');
    assert.deepEqual(
      { ...(await decide(tg, held.apiToken)), policy: undefined, rule: undefined },
      {
        allow: false,
        reason: 'subject_token_invalid',
        detail: 'subject_gone',
        policy: undefined,
        rule: undefined,
      },
    );
    assert.equal(await forward(tg, held.apiToken), 401, 'forward-auth let the token through');
    const refreshed = await refresh(held.refreshToken);
    assert.equal(refreshed.status, 400);
    assert.equal(refreshed.body.error, 'invalid_grant');
    const info = await userinfo(held.userinfoToken);
    assert.equal(info.status, 401);
    assert.match(info.headers.get('www-authenticate') ?? '', /invalid_token/);
  }

  it('refuses a deleted user token at introspection, /decide, forward-auth, refresh and userinfo at once', async () => {
    const held = await signedInUser();
    await assertLive(held);
    assert.equal((await tg.admin$('DELETE', `/users/${held.userId}`)).status, 204);
    await assertDead(held);
  });

  it('refuses a disabled user token everywhere at once, and refuses the sign-in like a wrong password', async () => {
    const held = await signedInUser();
    await assertLive(held);
    const disabled = await tg.admin$('POST', `/users/${held.userId}/disable`);
    assert.equal(disabled.status, 200);
    assert.equal(((await disabled.json()) as { disabled: boolean }).disabled, true);
    await assertDead(held);

    // No account enumeration: the page says exactly what a wrong password gets…
    const refused = await attemptLogin(tg, web.client_id, held.username, `${held.username} password`);
    const wrong = await attemptLogin(tg, web.client_id, held.username, 'not the password');
    assert.equal(refused.status, 401);
    assert.equal(wrong.status, 401);
    const message = (html: string) => html.match(/Invalid username or password\./)?.[0];
    assert.equal(message(await refused.text()), 'Invalid username or password.');
    assert.equal(message(await wrong.text()), 'Invalid username or password.');

    // …while the audit trail records the reason, and the disable itself as an admin change.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const audit = (await (await tg.admin$('GET', '/audit?limit=1000')).json()) as {
      events: { type: string; actor?: string; data: Record<string, unknown> }[];
    };
    assert.ok(
      audit.events.some(
        (e) => e.type === 'login.failed' && e.actor === held.username && e.data.reason === 'disabled',
      ),
    );
    const change = audit.events.find((e) => e.type === 'admin.change' && e.data.action === 'user.disable');
    assert.equal(change?.data.target, held.userId);
    assert.equal((change?.data.after as { disabled?: boolean } | undefined)?.disabled, true);
  });

  it('lets an enabled user sign in with new tokens while every token from before the disable stays dead', async () => {
    const held = await signedInUser();
    assert.equal((await tg.admin$('POST', `/users/${held.userId}/disable`)).status, 200);
    const enabled = await tg.admin$('POST', `/users/${held.userId}/enable`);
    assert.equal(enabled.status, 200);
    assert.equal(((await enabled.json()) as { disabled: boolean }).disabled, false);
    // iat has a resolution of a second: a new token must be visibly younger than the disable.
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const again = await signIn(tg, web, 'openid offline_access read', held.username);
    assert.equal(await introspect(tg, web, again.access_token), true);
    assert.equal((await decide(tg, again.access_token)).allow, true);
    assert.equal(await forward(tg, again.access_token), 200);
    assert.equal((await refresh(again.refresh_token ?? '')).status, 200);

    // Stricter than Keycloak's default: the grants were revoked at the disable and stay revoked.
    await assertDead(held);
  });

  it('answers 404 for disabling, enabling or deleting a user that does not exist', async () => {
    for (const [method, path] of [
      ['POST', '/users/usr_nobody/disable'],
      ['POST', '/users/usr_nobody/enable'],
      ['DELETE', '/users/usr_nobody'],
    ] as const) {
      const response = await tg.admin$(method, path);
      assert.equal(response.status, 404, `${method} ${path}`);
    }
  });

  it('still decides for machine tokens and for explicit subjects (no user behind them)', async () => {
    const response = await fetch(`${tg.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        subject: { id: 'u-explicit', roles: ['accountant'], attrs: { tenant: 'acme' } },
        action: 'read',
        resource: { type: 'Invoice', id: 'inv_1', attrs: { tenant: 'acme' } },
      }),
    });
    assert.equal(((await response.json()) as { allow: boolean }).allow, true);
    const { config } = await createMachineClient(tg, { name: 'svc', scope: 'read', api: API });
    const machine = await client.clientCredentialsGrant(config, { scope: 'read' });
    assert.equal(await introspect(tg, resourceServer, machine.access_token), true);
    assert.notEqual((await decide(tg, machine.access_token)).detail, 'subject_gone');
  });

  describe('a second instance on the same PostgreSQL database', {
    // Instances share only a PostgreSQL database.
    skip: skipUnless('postgres'),
  }, () => {
    let b: TestInstance;
    let atB: { gatewayKey: string; caller: string };
    before(async () => {
      b = await startTestInstance(ENV, { shareWith: tg });
      atB = await setUp(b, false);
    });
    after(() => b?.close());

    /** Milliseconds until `probe` holds, polling every 25 ms; fails after `ms`. */
    async function within(ms: number, probe: () => Promise<boolean>): Promise<number> {
      const started = Date.now();
      while (Date.now() - started < ms) {
        if (await probe()) return Date.now() - started;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`not within ${ms} ms`);
    }

    for (const change of ['delete', 'disable'] as const) {
      it(`refuses the user's token there within 1 s of a ${change} made on the first`, async () => {
        const { accessToken, userId } = await loggedInUser(
          tg,
          {
            username: `remote-${change}`,
            password: 'remote password',
            roles: ['accountant'],
            attrs: { tenant: 'acme' },
          },
          { audience: API, create: false },
        );
        // The second instance has read (and cached) the user before the change.
        assert.equal((await decide(b, accessToken, atB.caller)).allow, true);
        assert.equal(await introspect(b, resourceServer, accessToken), true);
        assert.equal(await forward(b, accessToken, atB.gatewayKey), 200);

        const response =
          change === 'delete'
            ? await tg.admin$('DELETE', `/users/${userId}`)
            : await tg.admin$('POST', `/users/${userId}/disable`);
        assert.ok(response.ok);
        await within(1000, async () => (await decide(b, accessToken, atB.caller)).detail === 'subject_gone');
        assert.equal(await introspect(b, resourceServer, accessToken), false);
        assert.equal(await forward(b, accessToken, atB.gatewayKey), 401);
      });
    }
  });
});

describe('a user known to be gone stays refused through a database outage', {
  skip: skipUnless('postgres', 'cluster'),
}, () => {
  it('keeps refusing a disabled user while still deciding for others from memory', async () => {
    const cluster = await createCluster();
    const tg = await startTestInstance(ENV, { database: cluster.database });
    try {
      const { caller } = await setUp(tg);
      const decide = async (token: string) =>
        (await (
          await fetch(`${tg.url}/decide`, {
            method: 'POST',
            headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              subject: { token },
              action: 'read',
              resource: { type: 'Invoice', id: 'inv_1', attrs: { tenant: 'acme' } },
            }),
          })
        ).json()) as { allow: boolean; detail?: string };
      const user = { roles: ['accountant'], attrs: { tenant: 'acme' } };
      const stays = await loggedInUser(
        tg,
        { ...user, username: 'stays', password: 'stays password' },
        { audience: API, create: false },
      );
      const leaves = await loggedInUser(
        tg,
        { ...user, username: 'leaves', password: 'leaves password' },
        { audience: API, create: false },
      );
      assert.equal((await decide(stays.accessToken)).allow, true);
      assert.equal((await decide(leaves.accessToken)).allow, true);
      assert.equal((await tg.admin$('POST', `/users/${leaves.userId}/disable`)).status, 200);
      assert.equal((await decide(leaves.accessToken)).detail, 'subject_gone');

      await cluster.stop();
      // Longer than the user cache's lifetime, so both answers come from a failed reload.
      await new Promise((resolve) => setTimeout(resolve, 5500));
      assert.equal((await decide(stays.accessToken)).allow, true);
      const during = await decide(leaves.accessToken);
      assert.equal(during.allow, false);
      assert.equal(during.detail, 'subject_gone');
      await cluster.start();
    } finally {
      await tg.close().catch(() => {});
      await cluster.destroy();
    }
  });
});
