import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { BUILTIN_API } from '../../src/admin/index.ts';
import type { AuditRecord } from '../../src/audit/index.ts';
import { json } from '../../src/db/json.ts';
import { type CreatedClient, createClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

// Issue 14: client credentials with the secret in Basic are answered before Koa and
// oidc-provider's token pipeline, with a token oidc-provider's own model makes. These tests hold
// that answer to the full path's, field for field, and send the requests it leaves to the full
// path, checking from oidc-provider's own events which path answered and that nothing got
// through on the way.

const LEDGER = 'https://ledger.example.test';
const BOOKS = 'https://books.example.test';
const BOUND = 'https://bound.example.test';
const NEIGHBOUR = '198.51.100.20';

type Confidential = CreatedClient & { client_secret: string };

interface Sent {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe('client credentials outside oidc-provider', () => {
  let tg: TestInstance;
  let owner: Confidential;
  /** How many token requests oidc-provider itself answered (granted or refused) since the test began. */
  let answeredByProvider = 0;

  before(async () => {
    tg = await startTestInstance({
      TRUSTED_PROXIES: '127.0.0.1,::1',
      CLIENT_AUTH_MAX_FAILURES: '3',
      CLIENT_AUTH_MAX_FAILURES_PER_IP: '6',
      TOKEN_RATE_LIMIT: '120',
      AUDIT_FLUSH_MS: '50',
    });
    await tg.admin$('POST', '/apis', { audience: LEDGER, scopes: ['read', 'write'], alg: 'ES256' });
    await tg.admin$('POST', '/apis', { audience: BOOKS, scopes: ['read'], alg: 'RS256' });
    await tg.admin$('POST', '/apis', {
      audience: BOUND,
      scopes: ['read'],
      alg: 'ES256',
      require_binding: 'dpop',
    });
    owner = await confidential({ name: 'owner', roles: ['auditor'] });
    // Every provider instance (one per key-ring change) reports to the same counter.
    const watch = () => {
      const provider = tg.tollgate.oidc.provider;
      provider.on('grant.success', () => answeredByProvider++);
      provider.on('grant.error', () => answeredByProvider++);
    };
    watch();
    tg.tollgate.ring.on('change', () => setImmediate(watch));
  });
  after(() => tg.close());
  beforeEach(() => {
    answeredByProvider = 0;
  });

  async function confidential(body: Record<string, unknown>, api = LEDGER): Promise<Confidential> {
    const created = await createClient(tg, {
      grant_types: ['client_credentials'],
      scope: 'read write',
      api,
      ...body,
    });
    assert.ok(created.client_secret);
    return { ...created, client_secret: created.client_secret };
  }

  async function token(
    form: Record<string, string> | string,
    headers: Record<string, string> = {},
    credentials: { client_id: string; client_secret: string } | null = owner,
    path = '/token',
  ): Promise<Sent> {
    const basic = credentials
      ? {
          authorization: `Basic ${Buffer.from(`${credentials.client_id}:${credentials.client_secret}`).toString('base64')}`,
        }
      : {};
    const response = await fetch(`${tg.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic, ...headers },
      body:
        typeof form === 'string'
          ? form
          : new URLSearchParams({ grant_type: 'client_credentials', ...form }).toString(),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : {} };
  }

  /** The same request through oidc-provider: the secret in the form (client_secret_post) instead. */
  function full(form: Record<string, string>, credentials: Confidential = owner): Promise<Sent> {
    return token(
      { ...form, client_id: credentials.client_id, client_secret: credentials.client_secret },
      {},
      null,
    );
  }

  function comparableHeaders(headers: Headers): [string, string][] {
    return [...headers].filter(([name]) => name !== 'date' && name !== 'x-request-id');
  }

  /** A token's header and claims, with what differs on every issue (jti, times) reduced to its shape. */
  function tokenShape(jwt: unknown): Record<string, unknown> {
    assert.equal(typeof jwt, 'string');
    const { jti, iat, exp, ...claims } = decodeJwt(jwt as string);
    assert.match(String(jti), /^[\w-]{43}$/);
    return { header: decodeProtectedHeader(jwt as string), claims, lifetime: Number(exp) - Number(iat) };
  }

  it('answers as the full path does: same status, headers, body and token', async () => {
    const forms: Record<string, string>[] = [
      { scope: 'read' },
      {},
      { resource: LEDGER },
      { scope: 'write read write', resource: LEDGER },
    ];
    for (const form of forms) {
      answeredByProvider = 0;
      const fast = await token(form);
      assert.equal(answeredByProvider, 0, `${JSON.stringify(form)}: answered by oidc-provider`);
      const slow = await full(form);
      assert.equal(answeredByProvider, 1, 'the comparison request went through oidc-provider');
      assert.equal(fast.status, 200, JSON.stringify(fast.body));
      assert.equal(slow.status, 200, JSON.stringify(slow.body));
      assert.deepEqual(comparableHeaders(fast.headers), comparableHeaders(slow.headers));
      const { access_token: fastToken, ...fastRest } = fast.body;
      const { access_token: slowToken, ...slowRest } = slow.body;
      assert.deepEqual(Object.keys(fast.body), Object.keys(slow.body), 'members in the same order');
      assert.deepEqual(fastRest, slowRest);
      assert.deepEqual(tokenShape(fastToken), tokenShape(slowToken));
    }
    // What those tokens say, spelled out: RFC 9068 with the client's roles for its own API.
    const { header, claims, lifetime } = tokenShape(
      (await token({ scope: 'write read write' })).body.access_token,
    );
    assert.deepEqual(header, { alg: 'ES256', typ: 'at+jwt', kid: tg.tollgate.ring.activeKid('ES256') });
    assert.deepEqual(claims, {
      roles: ['auditor'],
      sub: owner.client_id,
      scope: 'write read',
      client_id: owner.client_id,
      iss: tg.issuer,
      aud: LEDGER,
    });
    assert.equal(lifetime, 300);
  });

  it("signs with the API's own algorithm and the provider rebuilt after a key-ring change, as the full path", async () => {
    const reader = await confidential({ name: 'reader', scope: 'read' }, BOOKS);
    const before = tg.tollgate.oidc.provider;
    await tg.tollgate.ring.rotate();
    assert.notEqual(tg.tollgate.oidc.provider, before, 'the key-ring change rebuilt the provider');
    const fast = await token({}, {}, reader);
    assert.equal(fast.status, 200, JSON.stringify(fast.body));
    assert.equal(answeredByProvider, 0);
    const slow = await full({}, reader);
    assert.equal(answeredByProvider, 1, 'the rebuilt provider is watched too');
    assert.deepEqual(tokenShape(fast.body.access_token), tokenShape(slow.body.access_token));
    assert.deepEqual(decodeProtectedHeader(fast.body.access_token as string), {
      alg: 'RS256',
      typ: 'at+jwt',
      kid: tg.tollgate.ring.activeKid('RS256'),
    });
    const jwks = (await (await fetch(`${tg.url}/jwks`)).json()) as { keys: { kid: string }[] };
    assert.ok(
      jwks.keys.some((key) => key.kid === tg.tollgate.ring.activeKid('RS256')),
      'published',
    );
  });

  it("records every token it issues and spends the client's token rate limit, as the full path", async () => {
    const limited = await confidential({ name: 'limited' });
    const issued: string[] = [];
    for (let i = 0; i < 119; i++) {
      const answer = await token({ scope: 'read' }, {}, limited);
      assert.equal(answer.status, 200);
      issued.push(String(decodeJwt(answer.body.access_token as string).jti));
    }
    assert.equal(answeredByProvider, 0);
    const slow = await full({ scope: 'read' }, limited);
    assert.equal(slow.status, 200);
    // The 121st waits: the limit (120) was spent by both paths alike. oidc-provider refuses it.
    const over = await token({ scope: 'read' }, {}, limited);
    assert.equal(over.status, 429);
    assert.equal(over.body.error, 'too_many_requests');
    assert.ok(Number(over.headers.get('retry-after')) > 0);
    assert.equal(answeredByProvider, 2);

    // Its audit records say what the full path's say, about each token it issued.
    const slowJti = String(decodeJwt(slow.body.access_token as string).jti);
    const [slowEvent, fastEvent, ...others] = await issuedEvents([slowJti, ...issued]);
    assert.ok(slowEvent && fastEvent);
    assert.equal(others.length, issued.length - 1, 'one event for every token');
    const { jti: _fastJti, exp: _fastExp, ...fastData } = fastEvent.data;
    const { jti: _slowJti, exp: _slowExp, ...slowData } = slowEvent.data;
    assert.deepEqual(
      [fastEvent.actor, fastEvent.subject, fastEvent.client_id, fastEvent.ip, fastData],
      [slowEvent.actor, slowEvent.subject, slowEvent.client_id, slowEvent.ip, slowData],
    );
    assert.deepEqual(fastData, { grant_type: 'client_credentials', aud: LEDGER, scope: 'read' });
    const metrics = await (await fetch(`${tg.url}/metrics`, { headers: await scraper() })).text();
    assert.match(
      metrics,
      new RegExp(
        `tollgate_tokens_issued_total\\{grant_type="client_credentials",client="${limited.client_id}"\\} 120\\n`,
      ),
    );
  });

  it('leaves a wrong, padded or foreign secret to the full path, which refuses and counts it: the guessing address waits', async () => {
    const guessed = await confidential({ name: 'guessed' });
    const other = await confidential({ name: 'other' });
    const from = { 'x-forwarded-for': '203.0.113.7' };
    for (const secret of ['wrong', `${guessed.client_secret} `, other.client_secret]) {
      const refused = await token({}, from, { client_id: guessed.client_id, client_secret: secret });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error, 'invalid_client');
    }
    assert.equal(answeredByProvider, 3);
    // The right secret from the guessing address now waits; from elsewhere it works, here.
    const waiting = await token({}, from, guessed);
    assert.equal(waiting.status, 429);
    assert.ok(Number(waiting.headers.get('retry-after')) > 0);
    const elsewhere = await token({}, { 'x-forwarded-for': '203.0.113.8' }, guessed);
    assert.equal(elsewhere.status, 200);
    assert.equal(answeredByProvider, 4);
  });

  it('leaves requests it does not answer to oidc-provider, which answers or refuses them', async () => {
    const browser = await createClient(tg, {
      name: 'browser',
      grant_types: ['authorization_code'],
      redirect_uris: ['https://app.example.test/cb'],
      api: LEDGER,
      scope: 'read',
    });
    const fenced = await confidential({ name: 'fenced', allowed_ips: ['192.0.2.0/24'] });
    const bound = await confidential({ name: 'bound', scope: 'read' }, BOUND);
    const cases: [string, () => Promise<Sent>, number, string | undefined][] = [
      ['a scope outside the grant', () => token({ scope: 'read delete' }), 400, 'invalid_scope'],
      ['an OIDC scope', () => token({ scope: 'openid read' }), 400, 'invalid_scope'],
      ['another client API', () => token({ resource: BOOKS }), 400, 'invalid_target'],
      ['an admin scope without naming an API', () => token({ scope: 'admin' }), 400, 'invalid_scope'],
      [
        "Tollgate's own API without a grant",
        () => token({ resource: BUILTIN_API.audience }),
        400,
        'invalid_target',
      ],
      [
        'an unregistered API',
        () => token({ resource: 'https://nowhere.example.test' }),
        400,
        'invalid_target',
      ],
      ['a resource with a fragment', () => token({ resource: `${LEDGER}#x` }), 400, 'invalid_target'],
      [
        'a repeated scope',
        () => token('grant_type=client_credentials&scope=read&scope=write'),
        400,
        'invalid_request',
      ],
      ['an empty scope', () => token({ scope: '' }), 200, undefined],
      ['a scope with two spaces', () => token({ scope: 'read  write' }), 400, 'invalid_scope'],
      ['an unknown parameter', () => token({ scope: 'read', audience: BOOKS }), 200, undefined],
      [
        'a second credential in the form',
        () => token({ client_secret: owner.client_secret }),
        400,
        'invalid_request',
      ],
      ['DPoP', () => token({ scope: 'read' }, { dpop: 'not-a-proof' }), 400, 'invalid_dpop_proof'],
      ['an API that takes DPoP-bound tokens only', () => token({}, {}, bound), 400, 'invalid_request'],
      [
        'a client without client_credentials',
        () => token({}, {}, browser as Confidential),
        400,
        'invalid_request',
      ],
      [
        'a client outside its addresses',
        () => token({}, { 'x-forwarded-for': NEIGHBOUR }, fenced),
        401,
        'invalid_client',
      ],
      [
        'an unknown client',
        () => token({}, {}, { client_id: 'cl_made_up', client_secret: owner.client_secret }),
        401,
        'invalid_client',
      ],
    ];
    for (const [name, send, status, error] of cases) {
      answeredByProvider = 0;
      const answer = await send();
      assert.equal(answer.status, status, `${name}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error, error, name);
      assert.equal(answeredByProvider, 1, `${name}: answered by oidc-provider`);
    }
    // A CORS request is the provider's too: it allows only the client's own web origins.
    answeredByProvider = 0;
    const cors = await token({ scope: 'read' }, { origin: 'https://app.example.test' });
    assert.equal(cors.status, 400, JSON.stringify(cors.body));
    assert.match(String(cors.body.error_description), /^origin https:\/\/app\.example\.test not allowed/);
    assert.equal(answeredByProvider, 1);
  });

  it('leaves a client whose secret has expired to oidc-provider, which refuses it', async () => {
    const expiring = await confidential({ name: 'expiring' });
    assert.equal((await token({}, {}, expiring)).status, 200);
    // No admin call sets an expiry; a row written so (by hand or by another version) must still hold.
    const row = await tg.database.handle.db
      .selectFrom('clients')
      .select('metadata')
      .where('client_id', '=', expiring.client_id)
      .executeTakeFirstOrThrow();
    const metadata = {
      ...(row.metadata as object),
      client_secret_expires_at: Math.floor(Date.now() / 1000) - 60,
    };
    await tg.database.handle.db
      .updateTable('clients')
      .set({ metadata: json(metadata) })
      .where('client_id', '=', expiring.client_id)
      .execute();
    tg.tollgate.oidc.clients.invalidate(expiring.client_id);
    answeredByProvider = 0;
    const expired = await token({}, {}, expiring);
    assert.equal(expired.status, 400, JSON.stringify(expired.body));
    assert.equal(expired.body.error, 'invalid_client');
    assert.match(String(expired.body.error_description), /client secret is expired/);
    assert.equal(answeredByProvider, 1);
  });

  it('takes only its exact path: other spellings are refused, a query string goes to oidc-provider', async () => {
    for (const path of ['/token/', '/Token', '/%74oken']) {
      const answer = await token({ scope: 'read' }, {}, owner, path);
      assert.equal(answer.status, 404, path);
      assert.equal(answer.body.error, 'not_found', path);
    }
    answeredByProvider = 0;
    const queried = await token({ scope: 'read' }, {}, owner, '/token?x=1');
    assert.equal(queried.status, 200);
    assert.equal(answeredByProvider, 1);
  });

  it('sees a narrowed grant and a deleted client at once', async () => {
    const changing = await confidential({ name: 'changing' });
    assert.equal((await token({ scope: 'write' }, {}, changing)).status, 200);
    const narrowed = await tg.admin$('PUT', `/clients/${changing.client_id}/grants`, {
      api: LEDGER,
      scopes: ['read'],
    });
    assert.equal(narrowed.status, 200);
    const refused = await token({ scope: 'write' }, {}, changing);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_scope');
    assert.equal((await token({ scope: 'read' }, {}, changing)).status, 200);
    assert.equal((await tg.admin$('DELETE', `/clients/${changing.client_id}`)).status, 204);
    const gone = await token({ scope: 'read' }, {}, changing);
    assert.equal(gone.status, 401);
    assert.equal(gone.body.error, 'invalid_client');
  });

  /** The `token.issued` events of `jtis`, polled for: the audit writer batches. */
  async function issuedEvents(jtis: string[]): Promise<AuditRecord[]> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const response = await tg.admin$('GET', '/audit?type=token.issued&limit=1000');
      const { events } = (await response.json()) as { events: AuditRecord[] };
      const found = jtis.map((jti) => events.find((event) => event.data.jti === jti));
      if (found.every((event) => event !== undefined)) return found as AuditRecord[];
      if (Date.now() > deadline) throw new Error('not every token.issued event was written');
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  async function scraper(): Promise<Record<string, string>> {
    const created = await createClient(tg, {
      name: `scraper-${Date.now()}`,
      grant_types: ['client_credentials'],
      api: BUILTIN_API.audience,
      scope: 'metrics',
    });
    const answer = await token(
      { scope: 'metrics', resource: BUILTIN_API.audience },
      {},
      created as Confidential,
    );
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return { authorization: `Bearer ${answer.body.access_token}` };
  }
});
