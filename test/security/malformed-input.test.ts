import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { TollgateError } from '../../src/common/index.ts';
import { errorResponse } from '../../src/http/middleware.ts';
import { ENGINE } from '../helpers/database.ts';
import { createApi, createClient, createUser } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import type { FuzzRequest } from '../helpers/malformed-requests.ts';
import { requestToken } from '../helpers/tokens.ts';
import { type WireResponse, wireRequest } from '../helpers/wire-http.ts';
import { endpointFamilies, type Fixtures } from './endpoint-families.ts';

const API = 'https://orders.example.test';
const REDIRECT = 'https://app.example.test/cb';
/** `npm test` sends a few hundred requests per engine; `npm run fuzz` sets TOLLGATE_FUZZ_RUNS. */
const RUNS = Number(process.env.TOLLGATE_FUZZ_RUNS ?? 800);
const SEED = Number(process.env.TOLLGATE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Requests in flight at once (each batch of generated requests is sent concurrently). */
const BATCH = 8;

/** Guessing limits would answer 429 before the handlers under test run; the attack suites test them. */
const NO_LIMITS = {
  LOGIN_MAX_FAILURES: '1000000000',
  LOGIN_MAX_FAILURES_PER_IP: '1000000000',
  CLIENT_AUTH_MAX_FAILURES: '1000000000',
  CLIENT_AUTH_MAX_FAILURES_PER_IP: '1000000000',
  TOKEN_RATE_LIMIT: '1000000000',
  DECIDE_RATE_LIMIT: '1000000000',
};

describe('bad input never reaches the database as-is (issue 9)', () => {
  let tg: TestInstance;
  let fx: Fixtures;
  let minted = 0;

  async function send(method: string, target: string, headers: [string, string][] = [], body?: string) {
    return wireRequest(tg.url, {
      method,
      target,
      headers,
      body: body === undefined ? undefined : Buffer.from(body),
    });
  }
  const json = (r: WireResponse) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
  const form = (auth = true): [string, string][] => [
    ['content-type', 'application/x-www-form-urlencoded'],
    ...(auth
      ? [
          [
            'authorization',
            `Basic ${Buffer.from(`${fx.machine.client_id}:${fx.machine.client_secret}`).toString('base64')}`,
          ] as [string, string],
        ]
      : []),
  ];
  const admin = (): [string, string][] => [['authorization', `Bearer ${fx.tokens.admin}`]];
  const adminJson = (): [string, string][] => [...admin(), ['content-type', 'application/json']];

  async function token(
    credentials: { client_id: string; client_secret: string },
    scope: string,
    resource?: string,
  ) {
    const response = await requestToken(tg.url, credentials, { scope, ...(resource ? { resource } : {}) });
    const body = (await response.json()) as { access_token?: string };
    assert.ok(body.access_token, JSON.stringify(body));
    return body.access_token;
  }

  /** Tokens live 5 minutes; a long run re-mints them every 2. */
  async function mintTokens() {
    const decideClient = (
      fx as Partial<Fixtures> & { decider?: { client_id: string; client_secret: string } }
    ).decider;
    fx.tokens = {
      admin: await tg.adminToken(),
      decide: decideClient ? await token(decideClient, 'decide', 'urn:tollgate') : '',
      machine: await token(fx.machine, 'read', API),
    };
    minted = Date.now();
  }

  before(async () => {
    tg = await startTestInstance(NO_LIMITS);
    await createApi(tg, { audience: API, scopes: ['read'] });
    await createUser(tg, { username: 'bob', password: 'bob password 1', roles: ['customer'] });
    const web = await createClient(tg, {
      name: 'web',
      grant_types: ['authorization_code'],
      redirect_uris: [REDIRECT],
      scope: 'read',
      api: API,
    });
    const machine = await createClient(tg, {
      name: 'machine',
      grant_types: ['client_credentials'],
      scope: 'read',
      api: API,
    });
    const decider = await createClient(tg, {
      name: 'decider',
      grant_types: ['client_credentials'],
      scope: 'decide',
      api: 'urn:tollgate',
    });
    const gateway = (await (await tg.admin$('POST', '/gateways', { name: 'edge', apis: [API] })).json()) as {
      key: string;
    };
    fx = {
      api: API,
      redirect: REDIRECT,
      web: web as Fixtures['web'],
      machine: machine as Fixtures['machine'],
      tokens: { admin: '', decide: '', machine: '' },
      interaction: await openInteraction(tg, web.client_id),
      gatewayKey: gateway.key,
    };
    Object.assign(fx, { decider });
    await mintTokens();
  });
  after(() => tg.close());

  describe('identifiers that cannot exist are refused without a query', () => {
    it('refuses a query parameter holding NUL before oidc-provider sees it, naming the parameter', async () => {
      const valid = `client_id=${fx.web.client_id}&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid`;
      for (const [target, name] of [
        ['/auth?client_id=%00', 'client_id'],
        [
          `/auth?client_id=%00&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=openid`,
          'client_id',
        ],
        // oidc-provider would store these in its Interaction and Session payloads.
        [`/auth?${valid}&state=a%00b`, 'state'],
        ['/session/end?state=%00', 'state'],
        ['/session/end?client_id=%00', 'client_id'],
      ] as const) {
        const answer = await send('GET', target, [['accept', 'application/json']]);
        assert.equal(answer.status, 400, target);
        assert.equal(json(answer).error, 'invalid_request', target);
        assert.match(
          String(json(answer).error_description),
          new RegExp(`^${name}: must not contain NUL`),
          target,
        );
      }
    });

    it('answers token=%00 at introspection with active: false and at revocation with 200', async () => {
      const introspected = await send('POST', '/token/introspection', form(), 'token=%00');
      assert.equal(introspected.status, 200);
      assert.deepEqual(json(introspected), { active: false });
      const revoked = await send(
        'POST',
        '/token/revocation',
        form(),
        'token=a%00b&token_type_hint=refresh_token',
      );
      assert.equal(revoked.status, 200);
    });

    it('answers client_id=%00 in the /token form body with invalid_client', async () => {
      const tokenAnswer = await send(
        'POST',
        '/token',
        form(false),
        'grant_type=client_credentials&client_id=%00&client_secret=x',
      );
      assert.equal(tokenAnswer.status, 401);
      assert.equal(json(tokenAnswer).error, 'invalid_client');
    });

    for (const kind of ['clients', 'users', 'gateways']) {
      it(`answers DELETE /admin/${kind}/%00 with 404 not_found`, async () => {
        const answer = await send('DELETE', `/admin/${kind}/%00`, admin());
        assert.equal(answer.status, 404);
        assert.equal(json(answer).error, 'not_found');
      });
    }

    it('answers GET /admin/audit?subject=%00 (and its export) with 400 naming subject', async () => {
      for (const target of ['/admin/audit?subject=%00', '/admin/audit/export?subject=a%00b']) {
        const answer = await send('GET', target, admin());
        assert.equal(answer.status, 400, target);
        assert.equal(json(answer).error, 'invalid_request');
        assert.match(String(json(answer).error_description), /^subject: /);
      }
    });
  });

  describe('JSON and form bodies with NUL or unpaired surrogates are refused naming the field', () => {
    const cases: [string, string, RegExp][] = [
      ['/admin/users', '{"username":"a\\u0000b","password":"bob password 1"}', /^body\.username: /],
      ['/admin/users', '{"username":"a\\ud800b","password":"bob password 1"}', /^body\.username: /],
      [
        '/admin/users',
        '{"username":"ab","password":"bob password 1","attrs":{"x\\u0000":"y"}}',
        /^body\.attrs\.x\\u0000: keys /,
      ],
      ['/admin/clients', '{"name":"a\\u0000","grant_types":["client_credentials"]}', /^body\.name: /],
    ];
    for (const [path, body, field] of cases) {
      it(`refuses POST ${path} ${body}`, async () => {
        const answer = await send('POST', path, adminJson(), body);
        assert.equal(answer.status, 400);
        assert.equal(json(answer).error, 'invalid_request');
        assert.match(String(json(answer).error_description), field);
      });
    }

    it('refuses NUL in /decide attributes on the fast path and through Koa', async () => {
      const body = '{"subject":{"id":"u\\u0000"},"action":"read","resource":{"type":"Invoice","id":"inv_1"}}';
      for (const target of ['/decide', '/decide?via=koa', '/decide/plan']) {
        const answer = await send(
          'POST',
          target,
          [
            ['authorization', `Bearer ${fx.tokens.decide}`],
            ['content-type', 'application/json'],
          ],
          body,
        );
        assert.equal(answer.status, 400, target);
        assert.match(String(json(answer).error_description), /^body\.subject\.id: /, target);
      }
    });

    it('refuses a login form whose username holds NUL', async () => {
      const { uid, cookie, csrf } = fx.interaction;
      const answer = await send(
        'POST',
        `/interaction/${uid}/login`,
        [
          ['cookie', cookie],
          ['content-type', 'application/x-www-form-urlencoded'],
        ],
        `csrf=${csrf}&username=bob%00&password=x`,
      );
      assert.equal(answer.status, 400);
    });
  });

  it('renders a value the database refused (SQLSTATE class 22, 54000) as 400 invalid_request, never 500, and leaves our own errors alone', () => {
    for (const code of ['22021', '22P02', '22001', '22003', '22P05', '54000']) {
      const rendered = errorResponse(
        Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code }),
      );
      assert.equal(rendered.status, 400, code);
      assert.equal(rendered.body.error, 'invalid_request');
    }
    assert.equal(errorResponse(Object.assign(new Error('syntax error'), { code: '42601' })).status, 500);
    // Our own errors keep their answer whatever caused them.
    const conflict = new TollgateError('conflict', 'exists', { cause: { code: '22021' } });
    assert.equal(errorResponse(conflict).status, 409);
  });

  it('answers 400, not 500, when the database refuses a value inside oidc-provider (/auth) and in an admin route', async () => {
    // A trigger stands in for a value no schema foresaw: the database refuses the write with 22021.
    const db = tg.database.handle.db;
    await sql`create function refuse_value() returns trigger language plpgsql as $$
      begin raise exception 'invalid byte sequence for encoding "UTF8": 0x00' using errcode = '22021'; end $$`.execute(
      db,
    );
    await sql`create trigger refuse_value before insert on oidc_payloads for each row execute function refuse_value()`.execute(
      db,
    );
    await sql`create trigger refuse_value before insert on gateways for each row execute function refuse_value()`.execute(
      db,
    );
    try {
      const auth = `/auth?${new URLSearchParams({ client_id: fx.web.client_id, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid read', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`;
      const page = await send('GET', auth, [['accept', 'text/html']]);
      assert.equal(page.status, 400);
      assert.match(page.body.toString(), /invalid_request/);
      const created = await send('POST', '/admin/gateways', adminJson(), '{"name":"refused"}');
      assert.equal(created.status, 400);
      assert.equal(json(created).error, 'invalid_request');
    } finally {
      await sql`drop trigger refuse_value on oidc_payloads`.execute(db);
      await sql`drop trigger refuse_value on gateways`.execute(db);
      await sql`drop function refuse_value`.execute(db);
    }
  });

  it(`answers ${RUNS} generated malformed requests at every endpoint family with no 5xx, no error logged and /healthz still answering`, async () => {
    const stats = {
      requests: 0,
      families: new Map<string, number>(),
      statuses: new Map<number, number>(),
      ms: new Map<string, number>(),
    };
    const failures: string[] = [];
    let failed = 0;
    const families = endpointFamilies(fx);
    const anyRequest = fc.oneof(...Object.values(families));
    const started = Date.now();
    const firstLog = tg.logs.length;
    // Errors and provider faults (logged as warnings) fail the run; values only the database refused
    // (answered 400 by the last line of defence) are counted in the figures.
    const logged = (pattern: RegExp) => tg.logs.slice(firstLog).filter((line) => pattern.test(line));
    const figures = () => ({
      engine: ENGINE,
      seed: SEED,
      requests: stats.requests,
      seconds: Math.round((Date.now() - started) / 1000),
      families: Object.fromEntries([...stats.families].sort()),
      meanMs: Object.fromEntries(
        [...stats.ms].sort().map(([f, ms]) => [f, Math.round(ms / (stats.families.get(f) ?? 1))]),
      ),
      statuses: Object.fromEntries([...stats.statuses].sort(([a], [b]) => a - b)),
      fiveHundreds: [...stats.statuses].filter(([s]) => s >= 500).reduce((n, [, c]) => n + c, 0),
      failures: failed,
      errorLogLines: logged(/"level":(50|60)|oidc server_error/).length,
      refusedByDatabase: logged(/database refused a value/).length,
    });
    console.log(
      `malformed-input fuzz on ${ENGINE}: seed ${SEED}, ${RUNS} requests (TOLLGATE_FUZZ_SEED=${SEED} replays them)`,
    );
    await fc.assert(
      fc.asyncProperty(fc.array(anyRequest, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        if (Date.now() - minted > 120_000) await mintTokens();
        const answers = await Promise.all(
          batch.map(async (r) => {
            const t0 = performance.now();
            const answer = await wireRequest(tg.url, r);
            stats.ms.set(r.family, (stats.ms.get(r.family) ?? 0) + performance.now() - t0);
            return answer;
          }),
        );
        answers.forEach((answer, i) => {
          const sent = batch[i] as FuzzRequest;
          stats.requests++;
          stats.families.set(sent.family, (stats.families.get(sent.family) ?? 0) + 1);
          stats.statuses.set(answer.status, (stats.statuses.get(answer.status) ?? 0) + 1);
          const problem = judge(sent, answer);
          if (problem) failed++;
          if (problem && failures.length < 50) failures.push(`${problem}: ${describeRequest(sent)}`);
        });
        // A long run reports as it goes, so a stopped run still has its figures.
        if (stats.requests % 10_000 < BATCH) console.log(JSON.stringify(figures()));
        return true;
      }),
      { seed: SEED, numRuns: Math.ceil(RUNS / BATCH) },
    );
    const health = await send('GET', '/healthz');
    // Each such line with the access line of its request (same reqId), so the input is named.
    const errorLines = logged(/"level":(50|60)|oidc server_error/).map((line) => {
      const reqId = /"reqId":"([^"]+)"/.exec(line)?.[1];
      const access =
        reqId && tg.logs.find((l) => l.includes(`"reqId":"${reqId}"`) && l.includes('"msg":"request"'));
      return access ? `${line} ← ${access}` : line;
    });
    console.log(JSON.stringify(figures(), null, 1));
    assert.deepEqual(failures, [], `seed ${SEED}`);
    assert.equal(health.status, 200);
    assert.deepEqual(errorLines.slice(0, 5), []);
  });
});

/** What is wrong with an answer, or undefined: no 5xx, an answer at all, OAuth-shaped JSON errors. */
function judge(sent: FuzzRequest, answer: WireResponse): string | undefined {
  if (answer.status === 0) return 'no answer';
  if (answer.status >= 500) return `status ${answer.status} ${answer.body.toString('utf8').slice(0, 200)}`;
  const type = answer.headers['content-type'] ?? '';
  if (answer.status >= 400 && type.startsWith('application/json') && sent.method !== 'HEAD') {
    try {
      const body = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
      if (typeof body.error !== 'string' || typeof body.error_description !== 'string')
        return `error body not in OAuth's shape: ${answer.body.toString('utf8').slice(0, 200)}`;
    } catch {
      return `error body is not JSON: ${answer.body.toString('utf8').slice(0, 200)}`;
    }
  }
  return undefined;
}

function describeRequest(r: FuzzRequest): string {
  const clip = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…(${s.length})` : s);
  return JSON.stringify({
    method: r.method,
    target: clip(r.target),
    headers: r.headers.map(([n, v]) => [n, clip(v)]),
    body: r.body === undefined ? undefined : clip(r.body.toString('latin1')),
  });
}

/** Starts a sign-in as a browser would; returns the interaction uid, its cookies and CSRF token. */
async function openInteraction(tg: TestInstance, clientId: string): Promise<Fixtures['interaction']> {
  const url = new URL(`${tg.url}/auth`);
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: REDIRECT,
    scope: 'openid read',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  }).toString();
  const started = await fetch(url, { redirect: 'manual' });
  const location = started.headers.get('location') ?? '';
  const cookie = started.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const uid = /\/interaction\/([^/?]+)/.exec(location)?.[1] ?? '';
  const page = await (await fetch(new URL(location, tg.url), { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]*)"/.exec(page)?.[1] ?? '';
  assert.ok(uid && csrf, 'an interaction to attack');
  return { uid, cookie, csrf };
}
