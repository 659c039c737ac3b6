import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RawResponse, rawRequest } from '../helpers/raw-http.ts';
import { type GatewaySetup, startGatewaySetup, USER_API } from './gateway-fixtures.ts';

type Kind = 'nginx' | 'traefik' | 'envoy';
const KINDS: Kind[] = ['nginx', 'traefik', 'envoy'];

interface Ask {
  token?: string | undefined;
  /** null: no gateway credential at all. */
  key?: string | null;
  /** The host a gateway reports (Traefik's X-Forwarded-Host). */
  host?: string;
}

describe('forward-auth (/decide/forward/*)', () => {
  let setup: GatewaySetup;
  before(async () => {
    setup = await startGatewaySetup();
  });
  after(() => setup.tg.close());

  /**
   * The JSON answer; NGINX gets none at all (an unread body would cost it the upstream
   * connection), so for NGINX this checks the body is empty and returns {}.
   */
  function body(kind: Kind, answer: RawResponse): Record<string, unknown> {
    if (kind !== 'nginx') return answer.json();
    assert.equal(answer.body, '');
    assert.equal(answer.headers['content-length'], '0');
    return {};
  }

  /**
   * `error` and `error_description` of a refusal: from the body, or for NGINX (no body) from
   * the log line of the decision id the answer carries.
   */
  function refusal(kind: Kind, answer: RawResponse): { error: unknown; description: unknown } {
    if (kind !== 'nginx') {
      const json = answer.json();
      return { error: json.error, description: json.error_description };
    }
    body(kind, answer);
    const id = String(answer.headers['x-tollgate-decision-id']);
    const line = setup.tg.logs.find((l) => l.includes(id));
    assert.ok(line, `a log line for decision ${id}`);
    const entry = JSON.parse(line) as Record<string, unknown>;
    return { error: entry.error, description: entry.description };
  }

  /** A forward-auth request shaped exactly as each gateway's documentation says it sends one. */
  function ask(kind: Kind, method: string, uri: string, options: Ask = {}) {
    const headers: Record<string, string> = {};
    const key = options.key === undefined ? setup.gatewayKey : options.key;
    if (key !== null) headers['x-tollgate-gateway-key'] = key;
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (kind === 'nginx') {
      // auth_request: a subrequest with the original method, proxy_set_header X-Original-*.
      return rawRequest(setup.tg.url, {
        method,
        path: '/decide/forward/nginx',
        headers: { ...headers, 'x-original-method': method, 'x-original-uri': uri },
      });
    }
    if (kind === 'traefik') {
      // ForwardAuth: always GET, the original request in X-Forwarded-*.
      return rawRequest(setup.tg.url, {
        method: 'GET',
        path: '/decide/forward/traefik',
        headers: {
          ...headers,
          'x-forwarded-method': method,
          'x-forwarded-uri': uri,
          'x-forwarded-host': options.host ?? 'api.example.test',
          'x-forwarded-proto': 'https',
        },
      });
    }
    // ext_authz HTTP service: the original method, the original path after path_prefix.
    return rawRequest(setup.tg.url, { method, path: `/decide/forward/envoy${uri}`, headers });
  }

  for (const kind of KINDS) {
    describe(`${kind} contract`, () => {
      it('allows and hands the upstream the subject, roles, client and decision id', async () => {
        const answer = await ask(kind, 'GET', '/tenants/acme/invoices/42', {
          token: setup.carol.accessToken,
        });
        assert.equal(answer.status, 200, answer.body);
        assert.equal(answer.headers['x-tollgate-subject'], setup.carol.userId);
        assert.equal(answer.headers['x-tollgate-roles'], 'accountant');
        assert.equal(answer.headers['x-tollgate-client'], setup.carol.clientId);
        assert.match(String(answer.headers['x-tollgate-decision-id']), /^[0-9a-f-]{36}$/);
        if (kind !== 'nginx') assert.equal(body(kind, answer).rule, 'accountants-read-own-tenant');
        else body(kind, answer);
      });

      it('answers 403 when the policy denies (another tenant), with nothing for the upstream', async () => {
        const answer = await ask(kind, 'GET', '/tenants/globex/invoices/42', {
          token: setup.carol.accessToken,
        });
        assert.equal(answer.status, 403);
        assert.deepEqual(refusal(kind, answer), { error: 'access_denied', description: 'no_matching_rule' });
        assert.equal(answer.headers['x-tollgate-subject'], undefined);
        assert.ok(answer.headers['x-tollgate-decision-id'], 'a deny still names its decision');
      });

      it('answers 403 for a method the route does not cover', async () => {
        const answer = await ask(kind, 'DELETE', '/tenants/acme/invoices/42', {
          token: setup.carol.accessToken,
        });
        assert.equal(answer.status, 403);
      });

      it('answers 401 with a Bearer challenge when the end user has no token', async () => {
        const answer = await ask(kind, 'GET', '/tenants/acme/invoices/42');
        assert.equal(answer.status, 401);
        assert.equal(answer.headers['www-authenticate'], 'Bearer realm="tollgate"');
        assert.equal(refusal(kind, answer).error, 'invalid_token');
      });

      it('answers 401 naming the error when the token is invalid', async () => {
        const [head, payload] = setup.carol.accessToken.split('.');
        const forged = `${head}.${payload}.${'A'.repeat(86)}`;
        const answer = await ask(kind, 'GET', '/tenants/acme/invoices/42', { token: forged });
        assert.equal(answer.status, 401);
        assert.match(
          String(answer.headers['www-authenticate']),
          /^Bearer realm="tollgate", error="invalid_token"/,
        );
        assert.match(String(answer.headers['www-authenticate']), /error_description="signature"/);
        assert.match(String(refusal(kind, answer).description), /signature/);
      });

      it('denies (403) a path no route matches: default deny', async () => {
        const answer = await ask(kind, 'GET', '/reports/2026', { token: setup.dave.accessToken });
        assert.equal(answer.status, 403);
        assert.match(
          String(refusal(kind, answer).description),
          /no route of the policies matches GET \/reports\/2026/,
        );
      });

      it('answers 401 before any decision without a gateway credential, or with a wrong one', async () => {
        for (const key of [null, '', 'gw_nope.nope', `${setup.gatewayKey}x`]) {
          const answer = await ask(kind, 'GET', '/tenants/acme/invoices/42', {
            token: setup.carol.accessToken,
            key,
          });
          assert.equal(answer.status, 401, String(key));
          assert.equal(refusal(kind, answer).error, 'invalid_client');
          assert.equal(answer.headers['www-authenticate'], 'Tollgate-Gateway-Key realm="tollgate"');
          assert.equal(answer.headers['x-tollgate-subject'], undefined);
        }
      });
    });
  }

  it('passes the gateway-reported host to the policies as context.host (Traefik)', async () => {
    // /hosted/* is allowed only where the resource's host equals ${context.host}.
    const token = setup.carol.accessToken;
    const right = await ask('traefik', 'GET', '/hosted/home', { token, host: 'api.example.test' });
    assert.equal(right.status, 200, right.body);
    assert.equal(right.json().rule, 'anyone-reads-own-host');
    const wrong = await ask('traefik', 'GET', '/hosted/home', { token, host: 'other.example.test' });
    assert.equal(wrong.status, 403, wrong.body);
    assert.equal(wrong.json().error_description, 'no_matching_rule');
  });

  it('answers HEAD with the GET route', async () => {
    const answer = await ask('envoy', 'HEAD', '/public/home', { token: setup.carol.accessToken });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['x-tollgate-subject'], setup.carol.userId);
  });

  it('refuses a gateway request that lacks the original method or URI', async () => {
    const answer = await rawRequest(setup.tg.url, {
      method: 'GET',
      path: '/decide/forward/traefik',
      headers: {
        'x-tollgate-gateway-key': setup.gatewayKey,
        authorization: `Bearer ${setup.carol.accessToken}`,
      },
    });
    assert.equal(answer.status, 400);
    assert.match(String(answer.json().error_description), /x-forwarded-method/);
  });

  it('is not found under any other gateway name', async () => {
    const answer = await rawRequest(setup.tg.url, { method: 'GET', path: '/decide/forward/haproxy' });
    assert.equal(answer.status, 404);
  });

  describe('path confusion: nothing reaches an allow it should not', () => {
    // carol is no admin: /admin is denied to her, /public allowed, /docs allowed in any case.
    const tricks: [string, string][] = [
      ['/public/../admin', 'dot-dot back into admin'],
      ['/public/%2e%2e/admin', 'encoded dot-dot'],
      ['/public/%2E%2E/admin/users', 'upper-case encoded dot-dot'],
      ['/public/.%2e/admin', 'half-encoded dot-dot'],
      ['/admin%2f..', 'encoded slash'],
      ['/public/..%2Fadmin', 'encoded slash after dot-dot'],
      ['/public%5c..%5cadmin', 'encoded backslash'],
      ['/public\\..\\admin', 'raw backslash'],
      ['/public/%252e%252e/admin', 'double encoding'],
      ['/public/%00/../admin', 'encoded NUL'],
      ['//admin', 'duplicate slash'],
      ['/./admin', 'dot segment'],
      ['/Admin', 'case'],
      ['/ADMIN/users', 'case below'],
      ['/PUBLIC/home', 'case of an allowed route'],
      ['/admin;/public', 'semicolon parameter'],
      ['/public;x=/../admin', 'semicolon with dot-dot'],
      ['/admin/users;.css', 'semicolon suffix'],
      ['/admin?/public', 'query that looks like a path'],
      ['/admin?x=/../public/home', 'query with dot-dot'],
      ['/admin#/public', 'fragment'],
      ['/..', 'above the root'],
      ['/public/../../admin', 'climbing past the root'],
      ['/admin/%ZZ', 'malformed escape'],
      ['public/home', 'relative path'],
    ];
    for (const kind of KINDS) {
      for (const [uri, trick] of tricks) {
        it(`${kind}: ${trick} (${uri})`, async () => {
          const answer = await ask(kind, 'GET', uri, { token: setup.carol.accessToken });
          assert.notEqual(answer.status, 200, answer.body);
          assert.ok([400, 403].includes(answer.status), `${answer.status} ${answer.body}`);
          if (kind === 'nginx') assert.equal(answer.status, 403, 'auth_request understands 401 and 403 only');
          assert.equal(answer.headers['x-tollgate-subject'], undefined);
        });
      }
    }

    it('refuses encoded separators, double encoding, ";", backslashes and dot segments even for an admin', async () => {
      const refused = [
        '/admin%2f..',
        '/public/..%2Fadmin',
        '/public%5c..%5cadmin',
        '/public\\..\\admin',
        '/public/%252e%252e/admin',
        '/public/%00/../admin',
        '/admin;/public',
        '/admin/users;.css',
        '/..',
        '/admin/%ZZ',
        // Issue 9: dot segments are refused, no longer resolved (the upstream gets them raw).
        '/public/../admin',
        '/admin/./users',
        '/admin/../public/home?x=1',
      ];
      for (const kind of KINDS) {
        for (const uri of refused) {
          const answer = await ask(kind, 'GET', uri, { token: setup.dave.accessToken });
          assert.equal(answer.status, kind === 'nginx' ? 403 : 400, `${kind} ${uri}: ${answer.body}`);
          assert.equal(refusal(kind, answer).error, 'invalid_request', `${kind} ${uri}`);
        }
      }
    });

    it('still allows what the normalized path allows', async () => {
      for (const uri of ['/public/home', '/public//home', '/public/home?x=1', '/docs/Intro', '/DOCS/intro']) {
        const answer = await ask('nginx', 'GET', uri, { token: setup.carol.accessToken });
        assert.equal(answer.status, 200, `${uri}: ${answer.body}`);
      }
    });
  });

  describe('gateway credentials', () => {
    it('are shown once, listed without the key, and refused once deleted', async () => {
      const created = await setup.tg.admin$('POST', '/gateways', {
        name: 'short-lived',
        apis: [USER_API],
      });
      assert.equal(created.status, 201);
      const { key, id } = (await created.json()) as { key: string; id: string };
      assert.match(key, new RegExp(`^${id}\\.[A-Za-z0-9_-]{43}$`));
      const list = (await (await setup.tg.admin$('GET', '/gateways')).json()) as { gateways: object[] };
      assert.ok(list.gateways.some((g) => JSON.stringify(g).includes('short-lived')));
      assert.ok(!JSON.stringify(list).includes(key.split('.')[1] as string));
      const before = await ask('nginx', 'GET', '/public/home', { token: setup.carol.accessToken, key });
      assert.equal(before.status, 200);
      assert.equal((await setup.tg.admin$('DELETE', '/gateways/short-lived')).status, 204);
      const afterDelete = await ask('nginx', 'GET', '/public/home', { token: setup.carol.accessToken, key });
      assert.equal(afterDelete.status, 401);
    });

    it('refuses a duplicate name and a malformed one', async () => {
      const duplicate = await setup.tg.admin$('POST', '/gateways', { name: 'edge', apis: [USER_API] });
      assert.equal(duplicate.status, 409);
      const malformed = await setup.tg.admin$('POST', '/gateways', { name: 'no spaces', apis: [USER_API] });
      assert.equal(malformed.status, 400);
      assert.match(((await malformed.json()) as { error_description: string }).error_description, /^name: /);
    });

    it('are stored as digests only', async () => {
      const rows = await setup.tg.database.handle.db.selectFrom('gateways').selectAll().execute();
      const key = setup.gatewayKey;
      assert.ok(rows.length > 0);
      for (const row of rows) assert.ok(!JSON.stringify(row).includes(key.split('.')[1] as string));
    });
  });

  it('logs each forward decision with its gateway, route and rule, and no token', async () => {
    const answer = await ask('nginx', 'GET', '/tenants/acme/invoices/7', { token: setup.carol.accessToken });
    const id = answer.headers['x-tollgate-decision-id'];
    const line = setup.tg.logs.find((l) => l.includes(String(id)));
    assert.ok(line, 'an access log line names the decision');
    const entry = JSON.parse(line) as Record<string, unknown>;
    assert.equal(entry.gateway, 'nginx');
    assert.equal(entry.gatewayName, 'edge');
    assert.equal(entry.route, 'GET /tenants/:tenant/invoices/:id');
    assert.equal(entry.rule, 'accountants-read-own-tenant');
    assert.equal(entry.allow, true);
    const all = setup.tg.logs.join('\n');
    assert.ok(!all.includes(setup.carol.accessToken), 'no end-user token in the logs');
    assert.ok(!all.includes(setup.gatewayKey.split('.')[1] as string), 'no gateway key in the logs');
  });
});
