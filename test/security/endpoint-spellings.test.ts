import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type CreatedClient, createApi, createClient, createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { type RawResponse, rawRequest } from '../helpers/raw-http.ts';
import { requestToken } from '../helpers/tokens.ts';

// issue 9 §2: oidc-provider's router ignores case and one trailing slash, so other spellings
// of /token reached its endpoints past every guard written for '/token'; @koa/router matched
// /Admin/Clients while the admin router's authentication did not run.

/** Other spellings of `path` a lenient router (or a proxy that normalizes) might accept. */
function spellingsOf(path: string): [string, string][] {
  const segments = path.slice(1).split('/');
  const last = segments.length - 1;
  const capital = (s: string) => `${s.charAt(0).toUpperCase()}${s.slice(1)}`;
  const encodeFirst = (s: string) => `%${s.charCodeAt(0).toString(16).toUpperCase()}${s.slice(1)}`;
  const join = (parts: string[]) => `/${parts.join('/')}`;
  const spellings: [string, string][] = [
    ['upper case', path.toUpperCase()],
    ['mixed case', join(segments.map(capital))],
    ['a trailing slash', `${path}/`],
    ['a leading double slash', `/${path}`],
    ['a percent-encoded letter', join([...segments.slice(0, last), encodeFirst(segments[last] ?? '')])],
    [
      'mixed case, an encoded letter and a trailing slash',
      `${join([...segments.slice(0, last).map(capital), encodeFirst(capital(segments[last] ?? ''))])}/`,
    ],
  ];
  if (segments.length > 1) spellings.push(['a doubled inner slash', join(segments).replace('/', '//')]);
  return spellings;
}

const basic = (c: { client_id: string; client_secret?: string }, secret = c.client_secret ?? '') =>
  `Basic ${Buffer.from(`${c.client_id}:${secret}`).toString('base64')}`;

const form = { 'content-type': 'application/x-www-form-urlencoded' };

function assertRefused(response: RawResponse, where: string): void {
  assert.equal(response.status, 404, `${where}: ${response.status} ${response.body.slice(0, 200)}`);
  assert.equal(response.json().error, 'not_found', where);
  assert.match(String(response.json().error_description), /is spelled in lower case/, where);
}

describe('one spelling per endpoint', () => {
  let tg: TestInstance;
  let machine: CreatedClient;
  let decideToken: string;

  before(async () => {
    tg = await startTestInstance({
      CLIENT_AUTH_MAX_FAILURES: '3',
      CLIENT_AUTH_MAX_FAILURES_PER_IP: '1000',
      TOKEN_RATE_LIMIT: '30',
    });
    machine = (await createMachineClient(tg, { name: 'machine', scope: 'decide', api: 'urn:tollgate' }))
      .created;
    const issued = await requestToken(tg.url, machine, { scope: 'decide' });
    decideToken = ((await issued.json()) as { access_token: string }).access_token;
  });
  after(() => tg.close());

  it('refuses every other spelling of the token endpoints, so wrong secrets there never reach the secret comparison, and the guessing limit still holds at /token', async () => {
    const victim = await createMachineClient(tg, { name: 'victim', scope: 'decide', api: 'urn:tollgate' });
    const bodies: Record<string, string> = {
      '/token': 'grant_type=client_credentials&scope=decide',
      '/token/introspection': `token=${decideToken}`,
      '/token/revocation': `token=${decideToken}`,
      // Pushed authorization requests (RFC 9126) authenticate the client too.
      '/request': 'response_type=code&scope=openid',
    };
    for (const [endpoint, body] of Object.entries(bodies)) {
      for (const [name, path] of spellingsOf(endpoint)) {
        // One more wrong secret than the limit allows, then the right one: all refused unread.
        for (const secret of ['guess-1', 'guess-2', 'guess-3', 'guess-4', victim.created.client_secret]) {
          const response = await rawRequest(tg.url, {
            method: 'POST',
            path,
            headers: { ...form, authorization: basic(victim.created, secret) },
            body,
          });
          assertRefused(response, `${endpoint} with ${name} (${path})`);
        }
      }
    }
    // Nothing was revoked through another spelling: the token is still active.
    const introspected = await rawRequest(tg.url, {
      method: 'POST',
      path: '/token/introspection',
      headers: { ...form, authorization: basic(machine) },
      body: `token=${decideToken}`,
    });
    assert.equal(introspected.json().active, true);
    // At the one spelling the limit applies: 3 wrong secrets, then even the right one waits.
    for (let i = 0; i < 3; i++) {
      const wrong = await requestToken(
        tg.url,
        { client_id: victim.created.client_id, client_secret: `guess-${i}` },
        { scope: 'decide' },
      );
      assert.equal(wrong.status, 401);
    }
    const limited = await requestToken(tg.url, victim.created, { scope: 'decide' });
    assert.equal(limited.status, 429);
  });

  it('gives a client with --allow-ip 10.0.0.0/8 nothing from 127.0.0.1 under any spelling of /token', async () => {
    const fenced = await createClient(tg, {
      name: 'fenced',
      grant_types: ['client_credentials'],
      scope: 'decide',
      api: 'urn:tollgate',
      allowed_ips: ['10.0.0.0/8'],
    });
    for (const [name, path] of spellingsOf('/token')) {
      const response = await rawRequest(tg.url, {
        method: 'POST',
        path,
        headers: { ...form, authorization: basic(fenced) },
        body: 'grant_type=client_credentials&scope=decide',
      });
      assertRefused(response, `/token with ${name}`);
    }
    const canonical = await requestToken(tg.url, fenced, { scope: 'decide' });
    assert.equal(canonical.status, 401);
    assert.equal(((await canonical.json()) as { error: string }).error, 'invalid_client');
  });

  it('keeps the token rate limit at /token/ and every other spelling: past the limit no spelling issues a token', async () => {
    const busy = (await createMachineClient(tg, { name: 'busy', scope: 'decide', api: 'urn:tollgate' }))
      .created;
    for (let i = 0; i < 30; i++)
      assert.equal((await requestToken(tg.url, busy, { scope: 'decide' })).status, 200);
    assert.equal((await requestToken(tg.url, busy, { scope: 'decide' })).status, 429);
    for (const [name, path] of spellingsOf('/token')) {
      const response = await rawRequest(tg.url, {
        method: 'POST',
        path,
        headers: { ...form, authorization: basic(busy) },
        body: 'grant_type=client_credentials&scope=decide',
      });
      assertRefused(response, `/token with ${name}`);
    }
  });

  it('answers other spellings of /auth and /me (userinfo) with 404, not with their pages', async () => {
    const query = `?client_id=${machine.client_id}&response_type=code&scope=openid`;
    for (const [name, path] of spellingsOf('/auth'))
      assertRefused(
        await rawRequest(tg.url, { method: 'GET', path: `${path}${query}` }),
        `/auth with ${name}`,
      );
    for (const [name, path] of spellingsOf('/me')) {
      const response = await rawRequest(tg.url, {
        method: 'GET',
        path,
        headers: { authorization: `Bearer ${decideToken}` },
      });
      assertRefused(response, `/me with ${name}`);
    }
  });

  it('never serves the admin API without its token under another spelling: no listing, no deletion', async () => {
    const bystander = await createClient(tg, { name: 'bystander', grant_types: ['client_credentials'] });
    const paths = [
      ...spellingsOf('/admin/clients').map(([, path]) => path),
      '/admin/Clients',
      '/admin/CLIENTS',
      '/admin/%63lients',
    ];
    for (const path of paths) {
      const listed = await rawRequest(tg.url, { method: 'GET', path });
      assert.equal(listed.status, 404, `GET ${path}: ${listed.status} ${listed.body.slice(0, 120)}`);
      assert.ok(!listed.body.includes(tg.admin.client_id), `GET ${path} lists no clients`);
      const deleted = await rawRequest(tg.url, { method: 'DELETE', path: `${path}/${bystander.client_id}` });
      assert.equal(deleted.status, 404, `DELETE ${path}/…: ${deleted.status}`);
    }
    const list = (await (await tg.admin$('GET', '/clients')).json()) as { clients: { client_id: string }[] };
    assert.ok(
      list.clients.some((c) => c.client_id === bystander.client_id),
      'the client still exists',
    );
    // With the admin token, other spellings are not served either: one spelling, one behaviour.
    const token = await tg.adminToken();
    for (const path of ['/Admin/clients', '/admin/clients/', '/admin/Clients']) {
      const response = await rawRequest(tg.url, {
        method: 'GET',
        path,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 404, path);
    }
  });

  it('refuses other spellings of /decide and /decide/plan (node:http fast path and Koa routes alike), even with a valid caller token', async () => {
    for (const endpoint of ['/decide', '/decide/plan']) {
      for (const [name, path] of spellingsOf(endpoint)) {
        const response = await rawRequest(tg.url, {
          method: 'POST',
          path,
          headers: { authorization: `Bearer ${decideToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ subject: { id: 'u1', roles: [] }, action: 'read', resource: { type: 'X' } }),
        });
        assertRefused(response, `${endpoint} with ${name}`);
      }
    }
    const canonical = await rawRequest(tg.url, { method: 'POST', path: '/decide' });
    assert.equal(canonical.status, 401, 'the canonical spelling still asks for the caller token');
  });

  it('refuses other spellings of forward-auth for every gateway kind, even with a valid gateway key', async () => {
    const audience = 'https://spellings.example.test';
    await createApi(tg, { audience, scopes: ['read'] });
    const created = await tg.admin$('POST', '/gateways', { name: 'edge', apis: [audience] });
    assert.equal(created.status, 201);
    const { key } = (await created.json()) as { key: string };
    const headers = {
      'x-tollgate-gateway-key': key,
      'x-original-method': 'GET',
      'x-original-uri': '/public',
      'x-forwarded-method': 'GET',
      'x-forwarded-uri': '/public',
    };
    for (const kind of ['nginx', 'traefik', 'envoy']) {
      const endpoint = `/decide/forward/${kind}`;
      const tail = kind === 'envoy' ? '/public' : '';
      const canonical = await rawRequest(tg.url, { method: 'GET', path: `${endpoint}${tail}`, headers });
      assert.equal(canonical.status, 401, `${kind}: the canonical spelling reaches forward-auth`);
      // Envoy appends the original path, which starts with a slash: that tail is the gateway's.
      const spellings = spellingsOf(endpoint).filter(
        ([name]) => kind !== 'envoy' || name !== 'a trailing slash',
      );
      for (const [name, path] of spellings) {
        const response = await rawRequest(tg.url, { method: 'GET', path: `${path}${tail}`, headers });
        assertRefused(response, `${endpoint} with ${name}`);
      }
    }
  });
});
