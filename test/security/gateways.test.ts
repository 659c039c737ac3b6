import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import * as client from 'openid-client';
import { type GatewaySetup, startGatewaySetup, USER_API } from '../gateway/gateway-fixtures.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { createMachineClient } from '../helpers/fixtures.ts';
import { nginxBinary, type RunningNginx, startNginx } from '../helpers/nginx.ts';
import { type RawResponse, rawRequest } from '../helpers/raw-http.ts';
import { loggedInUser } from '../helpers/users.ts';

type Kind = 'nginx' | 'traefik' | 'envoy';
const KINDS: Kind[] = ['nginx', 'traefik', 'envoy'];
/** The API of a low-trust app that signs users in for itself; no gateway protects it. */
const LOW_TRUST_API = 'https://quiz.example.test';
const GLOBEX_TO_ACME = '/tenants/globex/invoices/1/%2e%2e/%2e%2e/%2e%2e/acme/invoices/1';
const SECRET = 'SECRETa9f3c1e07b';

const withNginx = skipUnless('nginx');
const binary = nginxBinary();

/** Issue 9 §7: attacks on what a gateway decides compared with what its upstream receives. */
describe('gateways decide on what the upstream receives', () => {
  let setup: GatewaySetup;
  /** erin: accountant of acme too, but signed in through the low-trust app, for its API. */
  let erinToken: string;
  let callerToken: string;

  before(async () => {
    // SUBJECT_TOKEN_AUDIENCES unset, as documented by default: nothing but the gateway's own
    // APIs (and the request's audience at /decide) keeps other APIs' tokens out.
    setup = await startGatewaySetup({ SUBJECT_TOKEN_AUDIENCES: '' });
    erinToken = (
      await loggedInUser(
        setup.tg,
        { username: 'erin', password: 'erin password', roles: ['accountant'], attrs: { tenant: 'acme' } },
        { audience: LOW_TRUST_API },
      )
    ).accessToken;
    const { config } = await createMachineClient(setup.tg, {
      name: 'invoice-service',
      scope: 'decide',
      api: 'urn:tollgate',
    });
    callerToken = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
  });
  after(() => setup?.tg.close());

  /** A forward-auth request shaped as each gateway sends one (see test/gateway/forward.test.ts). */
  function ask(
    kind: Kind,
    method: string,
    uri: string,
    options: { token?: string; headers?: Record<string, string>; key?: string } = {},
  ): Promise<RawResponse> {
    const headers: Record<string, string> = {
      'x-tollgate-gateway-key': options.key ?? setup.gatewayKey,
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    };
    if (kind === 'nginx') {
      return rawRequest(setup.tg.url, {
        method,
        path: '/decide/forward/nginx',
        headers: { ...headers, 'x-original-method': method, 'x-original-uri': uri },
      });
    }
    if (kind === 'traefik') {
      return rawRequest(setup.tg.url, {
        method: 'GET',
        path: '/decide/forward/traefik',
        headers: { ...headers, 'x-forwarded-method': method, 'x-forwarded-uri': uri },
      });
    }
    return rawRequest(setup.tg.url, { method, path: `/decide/forward/envoy${uri}`, headers });
  }

  /** The access log line of a forward-auth answer (NGINX's answers have no body). */
  function logLine(answer: RawResponse): Record<string, unknown> {
    const id = String(answer.headers['x-tollgate-decision-id']);
    const line = setup.tg.logs.find((l) => l.includes(id));
    assert.ok(line, `a log line for decision ${id}`);
    return JSON.parse(line) as Record<string, unknown>;
  }

  function assertRefused(kind: Kind, answer: RawResponse, what: string): void {
    assert.equal(answer.status, kind === 'nginx' ? 403 : 400, `${kind} ${what}: ${answer.body}`);
    assert.equal(answer.headers['x-tollgate-subject'], undefined);
    assert.equal(logLine(answer).error, 'invalid_request', `${kind} ${what}`);
  }

  describe('dot segments', () => {
    for (const kind of KINDS) {
      it(`${kind}: refuses globex/…/%2e%2e/…/acme, which used to be decided as acme's invoice`, async () => {
        const answer = await ask(kind, 'GET', GLOBEX_TO_ACME, { token: setup.carol.accessToken });
        assertRefused(kind, answer, GLOBEX_TO_ACME);
      });

      it(`${kind}: refuses raw, encoded and mixed "." and ".." segments anywhere in the path`, async () => {
        for (const segment of ['..', '.', '%2e%2e', '%2E%2E', '.%2e', '%2E.', '%2e', '%2E']) {
          for (const uri of [
            `/tenants/globex/invoices/1/${segment}/../../acme/invoices/1`,
            `/tenants/acme/invoices/1/${segment}`,
            `/${segment}/tenants/acme/invoices/1`,
          ]) {
            assertRefused(kind, await ask(kind, 'GET', uri, { token: setup.carol.accessToken }), uri);
          }
        }
      });
    }
  });

  describe('method overrides', () => {
    const headers = ['X-HTTP-Method-Override', 'X-Method-Override', 'X-HTTP-Method'];
    const queries = ['?_method=DELETE', '?page=2&_method=DELETE', '?%5Fmethod=DELETE', '?_METHOD=delete'];
    for (const kind of KINDS) {
      it(`${kind}: refuses a GET carrying ${headers.join(', ')} (the upstream would DELETE)`, async () => {
        for (const header of headers) {
          const answer = await ask(kind, 'GET', '/tenants/acme/invoices/1', {
            token: setup.carol.accessToken,
            headers: { [header]: 'DELETE' },
          });
          assertRefused(kind, answer, header);
        }
      });

      it(`${kind}: refuses a _method query parameter, however it is spelled`, async () => {
        for (const query of queries) {
          const uri = `/tenants/acme/invoices/1${query}`;
          assertRefused(kind, await ask(kind, 'GET', uri, { token: setup.carol.accessToken }), uri);
        }
      });
    }

    it('still allows the same GET without an override', async () => {
      for (const kind of KINDS) {
        const answer = await ask(kind, 'GET', '/tenants/acme/invoices/1?page=2', {
          token: setup.carol.accessToken,
        });
        assert.equal(answer.status, 200, `${kind}: ${answer.body}`);
      }
    });
  });

  describe('audiences: a token for another API', () => {
    for (const kind of KINDS) {
      it(`${kind}: is refused with 401 and detail audience at a gateway protecting ${USER_API}`, async () => {
        const answer = await ask(kind, 'GET', '/tenants/acme/invoices/1', { token: erinToken });
        assert.equal(answer.status, 401, answer.body);
        assert.match(String(answer.headers['www-authenticate']), /error="invalid_token"/);
        assert.match(String(answer.headers['www-authenticate']), /error_description="audience"/);
        assert.equal(answer.headers['x-tollgate-subject'], undefined);
        assert.equal(logLine(answer).detail, 'audience');
        // The gateway's own API still passes.
        const own = await ask(kind, 'GET', '/tenants/acme/invoices/1', { token: setup.carol.accessToken });
        assert.equal(own.status, 200, own.body);
      });
    }

    it('is accepted once the gateway is updated to protect that API too, with the same key', async () => {
      const created = await setup.tg.admin$('POST', '/gateways', { name: 'quiz-edge', apis: [USER_API] });
      assert.equal(created.status, 201);
      const { key } = (await created.json()) as { key: string };
      assert.equal(
        (await ask('envoy', 'GET', '/tenants/acme/invoices/1', { token: erinToken, key })).status,
        401,
      );
      const updated = await setup.tg.admin$('PUT', '/gateways/quiz-edge/apis', {
        apis: [USER_API, LOW_TRUST_API],
      });
      assert.equal(updated.status, 200, await updated.clone().text());
      assert.deepEqual(((await updated.json()) as { apis: string[] }).apis, [LOW_TRUST_API, USER_API].sort());
      assert.equal(
        (await ask('envoy', 'GET', '/tenants/acme/invoices/1', { token: erinToken, key })).status,
        200,
      );
    });

    it('cannot be a gateway API unless registered, nor Tollgate’s own, and at least one is required', async () => {
      for (const apis of [[], ['https://unknown.example.test'], ['urn:tollgate']]) {
        const answer = await setup.tg.admin$('POST', '/gateways', { name: 'bad-edge', apis });
        assert.equal(answer.status, 400, JSON.stringify(apis));
        assert.match(((await answer.json()) as { error_description: string }).error_description, /^apis/);
      }
      const without = await setup.tg.admin$('POST', '/gateways', { name: 'bad-edge' });
      assert.equal(without.status, 400);
    });

    it('a gateway from before gateways named their APIs refuses every token, saying why', async () => {
      // A row as migration 0007 leaves an older gateway: no audiences.
      const created = await setup.tg.admin$('POST', '/gateways', { name: 'legacy-edge', apis: [USER_API] });
      const { id, key } = (await created.json()) as { id: string; key: string };
      const { db } = setup.tg.database.handle;
      await db.deleteFrom('gateway_audiences').where('gateway_id', '=', id).execute();
      await sql`select pg_notify('tollgate_gateways', ${id})`.execute(db);
      // Every instance re-reads the gateways on that notification (or by polling) within a second.
      let answer = await ask('nginx', 'GET', '/tenants/acme/invoices/1', {
        token: setup.carol.accessToken,
        key,
      });
      for (let i = 0; i < 40 && answer.status === 200; i++) {
        await new Promise((done) => setTimeout(done, 50));
        answer = await ask('nginx', 'GET', '/tenants/acme/invoices/1', {
          token: setup.carol.accessToken,
          key,
        });
      }
      const listed = (await (await setup.tg.admin$('GET', '/gateways')).json()) as {
        gateways: { name: string; apis: string[] }[];
      };
      assert.deepEqual(listed.gateways.find((g) => g.name === 'legacy-edge')?.apis, []);
      assert.equal(answer.status, 401);
      const line = logLine(answer);
      assert.equal(line.detail, 'audience');
      assert.match(String(line.description), /protects no API.*gateway update legacy-edge --api/);
    });
  });

  describe('/decide with subject.token', () => {
    const decide = async (subject: unknown) => {
      const response = await fetch(`${setup.tg.url}/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${callerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          subject,
          action: 'read',
          resource: { type: 'Invoice', id: '1', attrs: { tenant: 'acme' } },
        }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    it('refuses a token for another API than subject.audience: subject_token_invalid, detail audience', async () => {
      for (const audience of [USER_API, [USER_API], [USER_API, 'https://billing.example.test']]) {
        const { status, body } = await decide({ token: erinToken, audience });
        assert.equal(status, 200);
        assert.equal(body.allow, false);
        assert.equal(body.reason, 'subject_token_invalid');
        assert.equal(body.detail, 'audience');
      }
      const own = await decide({ token: setup.carol.accessToken, audience: USER_API });
      assert.equal(own.body.allow, true, JSON.stringify(own.body));
    });

    it('never takes a token for Tollgate’s own API as a subject unless it is named', async () => {
      const { body } = await decide({ token: callerToken });
      assert.equal(body.reason, 'subject_token_invalid');
      assert.equal(body.detail, 'audience');
    });

    it('validates subject.audience and names the field', async () => {
      for (const audience of [5, '', [], [5], Array.from({ length: 21 }, (_, i) => `https://a${i}.test`)]) {
        const { status, body } = await decide({ token: erinToken, audience });
        assert.equal(status, 400, JSON.stringify(audience));
        assert.equal(body.error, 'invalid_request');
        assert.match(String(body.error_description), /^subject\.audience/);
      }
    });
  });

  it('logs no query value: forward-auth targets and Koa requests carrying ?api_key=SECRET', async () => {
    const query = `?api_key=${SECRET}&access_token=${SECRET}`;
    const refused = await ask('traefik', 'GET', `/tenants/acme/invoices/%252e${query}`, {
      token: setup.carol.accessToken,
    });
    assert.equal(refused.status, 400);
    assert.equal(
      logLine(refused).target,
      '/tenants/acme/invoices/%252e?api_key=[redacted]&access_token=[redacted]',
    );
    for (const kind of KINDS) {
      await ask(kind, 'GET', `/tenants/acme/invoices/1${query}`, { token: setup.carol.accessToken });
      await ask(kind, 'GET', `/tenants/acme/invoices/1/..${query}`, { token: setup.carol.accessToken });
      await ask(kind, 'GET', `/tenants/acme/invoices/1${query}&_method=PUT`, {
        token: setup.carol.accessToken,
      });
      await ask(kind, 'GET', `/tenants/acme/invoices/1?${SECRET}`, { token: setup.carol.accessToken });
    }
    for (const path of [
      '/.well-known/openid-configuration',
      '/nope',
      '/admin/clients',
      '/auth',
      '/healthz',
    ]) {
      await fetch(`${setup.tg.url}${path}${query}`, { redirect: 'manual' });
    }
    await fetch(`${setup.tg.url}/decide${query}`, { method: 'POST' });
    const logs = setup.tg.logs.join('\n');
    assert.ok(logs.includes('/.well-known/openid-configuration'), 'the Koa requests were logged');
    assert.ok(!logs.includes(SECRET), 'no query value in the logs');
  });

  describe('through a real NGINX (examples/nginx.conf)', {
    skip: withNginx,
  }, () => {
    let nginx: RunningNginx;
    let upstream: Server;
    const reached: string[] = [];

    before(async () => {
      upstream = createServer((req, res) => {
        reached.push(`${req.method} ${req.url}`);
        res.end('{}');
      });
      await new Promise<void>((done) => upstream.listen(0, '127.0.0.1', done));
      nginx = await startNginx({
        binary: binary as string,
        tollgateUrl: setup.tg.url,
        upstreamPort: (upstream.address() as AddressInfo).port,
        gatewayKey: setup.gatewayKey,
      });
    });
    after(async () => {
      await nginx?.stop();
      await new Promise((done) => upstream?.close(done));
    });

    const get = (path: string, token: string, headers: Record<string, string> = {}) =>
      rawRequest(nginx.url, {
        method: 'GET',
        path,
        headers: { ...headers, authorization: `Bearer ${token}` },
      });

    it('lets none of the attacks reach the upstream, and still lets the plain request through', async () => {
      reached.length = 0;
      assert.equal((await get(GLOBEX_TO_ACME, setup.carol.accessToken)).status, 403);
      assert.equal((await get('/tenants/acme/invoices/1/.%2e/2', setup.carol.accessToken)).status, 403);
      const override = { 'X-HTTP-Method-Override': 'DELETE' };
      assert.equal((await get('/tenants/acme/invoices/1', setup.carol.accessToken, override)).status, 403);
      assert.equal(
        (await get('/tenants/acme/invoices/1?_method=DELETE', setup.carol.accessToken)).status,
        403,
      );
      assert.equal((await get('/tenants/acme/invoices/1', erinToken)).status, 401);
      assert.deepEqual(reached, []);
      assert.equal((await get('/tenants/acme/invoices/1', setup.carol.accessToken)).status, 200);
      assert.deepEqual(reached, ['GET /tenants/acme/invoices/1']);
      assert.doesNotMatch(await nginx.errorLog(), /auth request unexpected status/);
    });
  });
});
