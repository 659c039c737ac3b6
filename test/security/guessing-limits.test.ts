import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord } from '../../src/audit/index.ts';
import { attemptLogin } from '../helpers/browser.ts';
import { type CreatedClient, createClient, createMachineClient, createUser } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

// issue 9 §3: failed client authentications were counted per client id from any address, and a
// lockout refused even the right secret; client ids are public, so anyone could lock any
// machine client out with a handful of wrong secrets.

/** A client-credentials request as it reaches us through the trusted proxy from `address`. */
function tokenFrom(
  tg: TestInstance,
  address: string,
  credentials: { client_id: string; client_secret?: string | undefined },
) {
  const basic = Buffer.from(`${credentials.client_id}:${credentials.client_secret ?? ''}`).toString('base64');
  return fetch(`${tg.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': address,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'decide' }),
  });
}

const machine = (tg: TestInstance, name: string) =>
  createClient(tg, { name, grant_types: ['client_credentials'], scope: 'decide', api: 'urn:tollgate' });

/** The audit events of `type` about `clientId`, once the writer has had time to flush. */
async function eventsOf(tg: TestInstance, type: string, clientId: string): Promise<AuditRecord[]> {
  let found: AuditRecord[] = [];
  for (let i = 0; i < 40 && found.length === 0; i++) {
    await new Promise((done) => setTimeout(done, 50));
    const response = await tg.admin$('GET', `/audit?type=${type}&limit=1000`);
    const { events } = (await response.json()) as { events: AuditRecord[] };
    found = events.filter((e) => e.client_id === clientId);
  }
  return found;
}

describe('guessing limits per client and address', () => {
  let tg: TestInstance;

  before(async () => {
    tg = await startTestInstance({
      // Requests come from the test through a proxy we trust, which names the client address.
      TRUSTED_PROXIES: '127.0.0.1,::1',
      CLIENT_AUTH_MAX_FAILURES: '3',
      CLIENT_AUTH_MAX_FAILURES_PER_IP: '8',
      CLIENT_AUTH_ATTACK_ADDRESSES: '4',
      AUDIT_FLUSH_MS: '50',
      LOGIN_MAX_FAILURES: '3',
      LOGIN_LOCKOUT_SECONDS: '60',
    });
  });
  after(() => tg.close());

  const from = (address: string, credentials: { client_id: string; client_secret?: string | undefined }) =>
    tokenFrom(tg, address, credentials);

  it('refuses the guessing address, the right secret included, while the client itself still gets tokens from its own address', async () => {
    const victim = await machine(tg, 'victim');
    for (let i = 0; i < 3; i++) {
      const wrong = await from('203.0.113.9', { client_id: victim.client_id, client_secret: `guess-${i}` });
      assert.equal(wrong.status, 401);
    }
    for (const secret of ['guess-4', victim.client_secret]) {
      const refused = await from('203.0.113.9', { client_id: victim.client_id, client_secret: secret });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      assert.equal(((await refused.json()) as { error: string }).error, 'too_many_requests');
    }
    for (let i = 0; i < 3; i++) assert.equal((await from('198.51.100.7', victim)).status, 200);
  });

  it('counts guesses at /token/introspection and /token/revocation with those at /token, per client and address', async () => {
    const victim = await machine(tg, 'rs-victim');
    const post = (endpoint: string, address: string, secret: string | undefined) =>
      fetch(`${tg.url}${endpoint}`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${victim.client_id}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': address,
        },
        body: new URLSearchParams({ token: 'not-a-token' }),
      });
    assert.equal((await post('/token/introspection', '203.0.113.77', 'guess-1')).status, 401);
    assert.equal((await post('/token/revocation', '203.0.113.77', 'guess-2')).status, 401);
    assert.equal((await from('203.0.113.77', { ...victim, client_secret: 'guess-3' })).status, 401);
    for (const endpoint of ['/token/introspection', '/token/revocation'])
      assert.equal((await post(endpoint, '203.0.113.77', victim.client_secret)).status, 429, endpoint);
    assert.equal((await post('/token/introspection', '198.51.100.77', victim.client_secret)).status, 200);
  });

  it('counts IPv6 addresses by their /64: two addresses in one /64 share a counter, an address outside it does not', async () => {
    const victim = await machine(tg, 'v6-victim');
    const guess = (address: string, secret: string) =>
      from(address, { client_id: victim.client_id, client_secret: secret });
    assert.equal((await guess('2001:db8:1:2::1', 'guess-1')).status, 401);
    assert.equal((await guess('2001:db8:1:2::1', 'guess-2')).status, 401);
    assert.equal((await guess('2001:db8:1:2:ffff:ffff:ffff:fffe', 'guess-3')).status, 401);
    // A third address of the same /64, with the right secret: that /64 has used up its guesses.
    assert.equal((await from('2001:db8:1:2:dead:beef::1', victim)).status, 429);
    assert.equal((await from('2001:db8:1:3::1', victim)).status, 200, 'the next /64 is another address');
  });

  it('limits an address across client ids (IPv6 by its /64), and only that address', async () => {
    const clients = [];
    for (const name of ['a', 'b', 'c', 'd']) clients.push(await machine(tg, name));
    const hosts = ['2001:db8:77:1::a', '2001:db8:77:1::b', '2001:db8:77:1:1:2:3:4', '2001:db8:77:1::c'];
    // 8 failures from one /64, 2 per client id: under the per-client limit, at the address limit.
    for (const [i, client] of clients.entries()) {
      for (const host of hosts.slice(i % 2, (i % 2) + 2)) {
        const wrong = await from(host, { client_id: client.client_id, client_secret: 'nope' });
        assert.equal(wrong.status, 401);
      }
    }
    const last = clients[3] as CreatedClient;
    assert.equal((await from('2001:db8:77:1::99', last)).status, 429, 'the /64 is over its limit');
    assert.equal((await from('2001:db8:77:2::99', last)).status, 200, 'another /64 is not');
  });

  it('reports a client guessed at from many addresses once (audit client_auth.attack and a metric) without locking it out', async () => {
    const target = await machine(tg, 'target');
    for (let i = 1; i <= 7; i++) {
      const wrong = await from(`192.0.2.${i}`, { client_id: target.client_id, client_secret: `guess-${i}` });
      assert.equal(wrong.status, 401);
    }
    assert.equal((await from('198.51.100.20', target)).status, 200, 'the client is not locked out');
    const events = await eventsOf(tg, 'client_auth.attack', target.client_id);
    assert.equal(events.length, 1, 'reported once per window, not once per failure');
    const [event] = events as [AuditRecord];
    assert.equal(event.data.addresses, 4);
    assert.ok(Number(event.data.failures) >= 4);
    assert.equal(event.data.window_seconds, 900);

    const metricsClient = await createMachineClient(tg, {
      name: 'scraper',
      scope: 'metrics',
      api: 'urn:tollgate',
    });
    const issued = await requestToken(tg.url, metricsClient.created, { scope: 'metrics' });
    const { access_token } = (await issued.json()) as { access_token: string };
    const exposition = await (
      await fetch(`${tg.url}/metrics`, { headers: { authorization: `Bearer ${access_token}` } })
    ).text();
    assert.match(
      exposition,
      new RegExp(`tollgate_client_auth_attacks_total\\{client="${target.client_id}"\\} 1`),
    );
  });

  it('locks a username out per IPv6 /64 at the login form: another host of the /64 waits, the next /64 signs in', async () => {
    await createUser(tg, { username: 'zoe', password: 'zoe password' });
    const web = await createClient(tg, {
      name: 'web',
      grant_types: ['authorization_code'],
      redirect_uris: ['https://app.example.test/cb'],
    });
    const login = (address: string, password: string) =>
      attemptLogin(tg, web.client_id, 'zoe', password, undefined, { 'x-forwarded-for': address });
    assert.equal((await login('2001:db8:5:6::1', 'wrong')).status, 401);
    assert.equal((await login('2001:db8:5:6::2', 'wrong')).status, 401);
    assert.equal((await login('2001:db8:5:6:aaaa::3', 'wrong')).status, 429, 'the third failure of the /64');
    assert.equal((await login('2001:db8:5:6:bbbb::4', 'zoe password')).status, 429);
    assert.equal((await login('2001:db8:5:7::1', 'zoe password')).status, 303);
  });
});

describe('the token rate limit is charged only once a client has authenticated', () => {
  let tg: TestInstance;
  before(async () => {
    // The guessing limits are out of the way: only the token budget can refuse here.
    tg = await startTestInstance({
      TOKEN_RATE_LIMIT: '5',
      CLIENT_AUTH_MAX_FAILURES: '1000',
      CLIENT_AUTH_MAX_FAILURES_PER_IP: '1000',
    });
  });
  after(() => tg.close());

  it('leaves a client its whole budget after strangers named its id with wrong secrets, and still limits the client itself', async () => {
    const victim = await machine(tg, 'budget-victim');
    for (let i = 0; i < 8; i++) {
      const wrong = await requestToken(tg.url, { client_id: victim.client_id, client_secret: `x-${i}` }, {});
      assert.equal(wrong.status, 401);
    }
    // The id alone in the form body, no credential at all.
    const bare = await fetch(`${tg.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: victim.client_id }),
    });
    assert.equal(bare.status, 401);
    for (let i = 0; i < 5; i++)
      assert.equal((await requestToken(tg.url, victim, { scope: 'decide' })).status, 200, `request ${i + 1}`);
    const limited = await requestToken(tg.url, victim, { scope: 'decide' });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.match(
      ((await limited.json()) as { error_description: string }).error_description,
      /5 token requests/,
    );
  });
});
