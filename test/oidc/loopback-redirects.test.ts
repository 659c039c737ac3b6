import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { createApi, createClient, createUser } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { authorizationRequest, signInThroughBrowser } from '../helpers/users.ts';

const API = 'https://invoices.example.test';
const ALICE = { username: 'alice', password: 'correct horse battery' };

/**
 * RFC 8252 §7.3: a native app listens on whatever loopback port it could open, so for loopback
 * IP redirect URIs the port may vary at authorization time. Nothing else may: not the host
 * spelling, the scheme, the path, the query, and not for web clients.
 */
describe('loopback redirect URIs of native clients (RFC 8252)', () => {
  let tg: TestInstance;
  let native: string;

  before(async () => {
    tg = await startTestInstance();
    await createApi(tg, { audience: API, scopes: ['read'] });
    await createUser(tg, ALICE);
    ({ client_id: native } = await createClient(tg, {
      name: 'cli',
      grant_types: ['authorization_code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      public: true,
      scope: 'read',
      api: API,
    }));
  });
  after(() => tg.close());

  /** The provider's answer to an authorization request, not followed. */
  async function authorize(clientId: string, redirectUri: string): Promise<Response> {
    const { url } = await authorizationRequest(tg, { clientId, auth: client.None(), redirectUri });
    return fetch(url, { redirect: 'manual' });
  }

  async function assertAccepted(clientId: string, redirectUri: string) {
    const response = await authorize(clientId, redirectUri);
    await response.body?.cancel();
    assert.equal(response.status, 303, redirectUri);
    assert.match(response.headers.get('location') ?? '', /^\/interaction\//, redirectUri);
  }

  async function assertRefused(clientId: string, redirectUri: string) {
    const response = await authorize(clientId, redirectUri);
    const page = await response.text();
    assert.equal(response.status, 400, redirectUri);
    assert.equal(response.headers.get('location'), null, `${redirectUri} must not be redirected to`);
    assert.match(page, /redirect_uri/, redirectUri);
  }

  async function clientView(clientId: string) {
    const { clients } = (await (await tg.admin$('GET', '/clients')).json()) as {
      clients: { client_id: string; application_type: string }[];
    };
    return clients.find((c) => c.client_id === clientId);
  }

  it('registers a public client with loopback IP redirect URIs as a native app', async () => {
    assert.equal((await clientView(native))?.application_type, 'native');
  });

  it('accepts the registered loopback redirect on any port, and without one', async () => {
    for (const uri of [
      'http://127.0.0.1/callback',
      'http://127.0.0.1:49152/callback',
      'http://127.0.0.1:8080/callback',
      'http://127.0.0.1:65535/callback',
    ])
      await assertAccepted(native, uri);
  });

  it('refuses every other spelling of the loopback redirect', async () => {
    for (const uri of [
      // RFC 8252 §8.3: localhost is a name, not the registered IP literal; ::1 is another address.
      'http://localhost:49152/callback',
      'http://[::1]:49152/callback',
      'http://127.1:49152/callback',
      'http://2130706433:49152/callback',
      'http://127.0.0.2:49152/callback',
      'https://127.0.0.1:49152/callback',
      'http://127.0.0.1:49152/callback/',
      'http://127.0.0.1:49152/Callback',
      'http://127.0.0.1:49152/callback/../callback',
      'http://127.0.0.1:49152/other',
      'http://127.0.0.1:49152/callback?next=https://evil.example',
      'http://127.0.0.1:49152//callback',
      'http://evil@127.0.0.1:49152/callback',
      'http://127.0.0.1:49152@evil.example/callback',
      'http://127.0.0.1.evil.example:49152/callback',
      'http://evil.example:49152/callback',
      'http://127.0.0.1:port/callback',
    ])
      await assertRefused(native, uri);
  });

  it('keeps exact matching for web clients, even on loopback', async () => {
    const confidential = await createClient(tg, {
      name: 'local web app',
      grant_types: ['authorization_code'],
      redirect_uris: ['http://127.0.0.1:3001/callback'],
      scope: 'read',
      api: API,
    });
    const publicWeb = await createClient(tg, {
      name: 'spa on loopback',
      grant_types: ['authorization_code'],
      redirect_uris: ['http://127.0.0.1/callback'],
      public: true,
      application_type: 'web',
      scope: 'read',
      api: API,
    });
    assert.equal((await clientView(confidential.client_id))?.application_type, 'web');
    assert.equal((await clientView(publicWeb.client_id))?.application_type, 'web');
    await assertAccepted(confidential.client_id, 'http://127.0.0.1:3001/callback');
    await assertRefused(confidential.client_id, 'http://127.0.0.1:3002/callback');
    await assertRefused(confidential.client_id, 'http://127.0.0.1/callback');
    await assertAccepted(publicWeb.client_id, 'http://127.0.0.1/callback');
    await assertRefused(publicWeb.client_id, 'http://127.0.0.1:49152/callback');
  });

  it('does not treat localhost or a mix with other hosts as a native app', async () => {
    const named = await createClient(tg, {
      name: 'localhost app',
      grant_types: ['authorization_code'],
      redirect_uris: ['http://localhost/callback'],
      public: true,
    });
    const mixed = await createClient(tg, {
      name: 'mixed',
      grant_types: ['authorization_code'],
      redirect_uris: ['http://127.0.0.1/callback', 'https://app.example.test/callback'],
      public: true,
    });
    for (const { client_id } of [named, mixed]) {
      assert.equal((await clientView(client_id))?.application_type, 'web');
    }
    await assertRefused(named.client_id, 'http://localhost:49152/callback');
    await assertRefused(mixed.client_id, 'http://127.0.0.1:49152/callback');
  });

  it('refuses a native client whose plain-http redirect is not on loopback, and an unknown type', async () => {
    for (const [body, field] of [
      [{ application_type: 'native', redirect_uris: ['http://app.example.test/callback'] }, 'redirect_uris'],
      [{ application_type: 'native', redirect_uris: ['javascript:alert(1)//'] }, 'redirect_uris'],
      [{ application_type: 'Native', redirect_uris: ['http://127.0.0.1/callback'] }, 'application_type'],
      [{ application_type: ['native'], redirect_uris: ['http://127.0.0.1/callback'] }, 'application_type'],
    ] as const) {
      const response = await tg.admin$('POST', '/clients', {
        name: 'bad native',
        grant_types: ['authorization_code'],
        public: true,
        ...body,
      });
      const answer = (await response.json()) as { error: string; error_description: string };
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(answer.error, 'invalid_request');
      assert.match(answer.error_description, new RegExp(field));
    }
  });

  it('redeems a code only with the exact redirect URI, port included, it was issued for', async () => {
    const login = (redirectUri: string) =>
      signInThroughBrowser(tg, { clientId: native, auth: client.None(), redirectUri }, ALICE);

    const first = await login('http://127.0.0.1:49152/callback');
    assert.equal(first.redirect.origin, 'http://127.0.0.1:49152');
    const code = first.redirect.searchParams.get('code') ?? '';
    const redeem = (redirectUri: string) =>
      fetch(`${tg.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: native,
          code,
          redirect_uri: redirectUri,
          code_verifier: first.verifier,
        }),
      });
    const elsewhere = await redeem('http://127.0.0.1:49153/callback');
    assert.equal(elsewhere.status, 400);
    assert.equal(((await elsewhere.json()) as { error: string }).error, 'invalid_grant');

    // The same flow on another port succeeds end to end with a library relying party.
    const second = await login('http://127.0.0.1:50000/callback');
    const tokens = await client.authorizationCodeGrant(second.config, second.redirect, {
      pkceCodeVerifier: second.verifier,
    });
    assert.ok(tokens.access_token);
  });
});
