import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { skipUnless } from '../helpers/capabilities.ts';
import { dpopProof, tokenHash } from '../helpers/dpop.ts';
import { createApi, createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { anyoneReads } from '../helpers/policies.ts';
import { requestToken } from '../helpers/tokens.ts';

const API = 'https://docs.example.test';
const POLICY = anyoneReads('Doc', '/docs');

type Answer = { status: number; body: Record<string, unknown> };

/**
 * DPoP (RFC 9449) end to end: a client gets a key-bound token with openid-client's DPoP support
 * and calls a resource server with it; the resource server asks Tollgate, relaying the proof
 * (POST /decide) or acting as a Traefik gateway (forward-auth). Attacks use proofs made here
 * with jose: another key, method, URL, token, a stale or replayed proof.
 */
describe('DPoP-bound access tokens', () => {
  let tg: TestInstance;
  let config: client.Configuration;
  let handle: client.DPoPHandle;
  let keyPair: client.CryptoKeyPair;
  let bound: string;
  let caller: string;
  let gatewayKey: string;
  let rs: Server;
  let rsUrl: string;
  /**
   * The last request the resource server received (asking /decide itself, or through Traefik's
   * forward-auth when `x-through: gateway`), with what Tollgate answered about it.
   */
  let last: { method: string; url: string; proof: string | undefined; token: string; answer: Answer };

  const decide = async (subject: Record<string, unknown>, token = caller): Promise<Answer> => {
    const response = await fetch(`${tg.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject, action: 'read', resource: { type: 'Doc', id: 'd1' } }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  /** Forward-auth as Traefik asks it, for a request to the resource server. */
  const forward = async (request: { method: string; path: string; authorization: string; dpop?: string }) => {
    const response = await fetch(`${tg.url}/decide/forward/traefik`, {
      headers: {
        'x-tollgate-gateway-key': gatewayKey,
        'x-forwarded-method': request.method,
        'x-forwarded-uri': request.path,
        'x-forwarded-host': new URL(rsUrl).host,
        'x-forwarded-proto': 'http',
        authorization: request.authorization,
        ...(request.dpop ? { dpop: request.dpop } : {}),
      },
    });
    const text = await response.text();
    return {
      status: response.status,
      body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
      challenge: response.headers.get('www-authenticate'),
    };
  };

  /** What a service does: relays the token, the proof and its own request to Tollgate. */
  async function serve(req: IncomingMessage): Promise<Answer> {
    const [scheme, token = ''] = (req.headers.authorization ?? '').split(' ');
    const proof = req.headers.dpop as string | undefined;
    const url = `${rsUrl}${req.url}`;
    const answer =
      req.headers['x-through'] === 'gateway'
        ? await forward({
            method: req.method ?? '',
            path: req.url ?? '',
            authorization: `${scheme} ${token}`,
            ...(proof ? { dpop: proof } : {}),
          })
        : await decide({
            token,
            ...(proof ? { dpop: { proof, method: req.method, url } } : {}),
          });
    last = { method: req.method ?? '', url, proof, token, answer };
    return answer;
  }

  /** A GET through openid-client's DPoP support: a fresh proof for this URL and this token. */
  async function fetchWithDpop(path: string, through: 'service' | 'gateway' = 'service'): Promise<Answer> {
    const headers = new Headers({ 'x-through': through });
    const response = await client.fetchProtectedResource(
      config,
      bound,
      new URL(`${rsUrl}${path}`),
      'GET',
      undefined,
      headers,
      {
        DPoP: handle,
      },
    );
    return (await response.json()) as Answer;
  }

  /** A proof made by hand, for attacks: every claim overridable. */
  async function proof(claims: Record<string, unknown>, keys = keyPair, alg = 'ES256'): Promise<string> {
    return dpopProof({ keys, token: bound, htu: `${rsUrl}/docs/d1`, claims, alg });
  }

  before(async () => {
    tg = await startTestInstance();
    assert.equal(
      (await tg.admin$('POST', '/policies', { files: [{ name: 'doc.yaml', content: POLICY }] })).status,
      201,
    );
    await createApi(tg, { audience: API, scopes: ['read'] });
    ({ config } = await createMachineClient(tg, { name: 'app', scope: 'read', api: API }));
    keyPair = await client.randomDPoPKeyPair('ES256');
    handle = client.getDPoPHandle(config, keyPair);
    bound = (await client.clientCredentialsGrant(config, { scope: 'read', resource: API }, { DPoP: handle }))
      .access_token;
    const svc = await createMachineClient(tg, { name: 'svc', scope: 'decide', api: 'urn:tollgate' });
    caller = (await client.clientCredentialsGrant(svc.config, { scope: 'decide' })).access_token;
    const gateway = await tg.admin$('POST', '/gateways', { name: 'edge', apis: [API] });
    gatewayKey = ((await gateway.json()) as { key: string }).key;

    rs = createServer((req, res) => {
      serve(req).then(
        (answer) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer)),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    });
    await new Promise<void>((resolve) => rs.listen(0, '127.0.0.1', resolve));
    const address = rs.address() as { port: number };
    rsUrl = `http://127.0.0.1:${address.port}`;
  });
  after(async () => {
    rs?.close();
    await tg?.close();
  });

  it('issues tokens bound to the client key (cnf.jkt) and says so in discovery', async () => {
    const jkt = (decodeJwt(bound).cnf as { jkt?: string } | undefined)?.jkt;
    const expected = createHash('sha256')
      .update(
        JSON.stringify((({ crv, kty, x, y }) => ({ crv, kty, x, y }))(await exportJWK(keyPair.publicKey))),
      )
      .digest('base64url');
    assert.equal(jkt, expected);
    const discovery = (await (await fetch(`${tg.issuer}/.well-known/openid-configuration`)).json()) as {
      dpop_signing_alg_values_supported?: string[];
    };
    assert.ok(discovery.dpop_signing_alg_values_supported?.includes('ES256'));
  });

  it('tells a resource server the binding at introspection (cnf.jkt, RFC 9449 §6.2), an unbound token none', async () => {
    const answer = await client.tokenIntrospection(config, bound);
    assert.equal(answer.active, true);
    assert.deepEqual(answer.cnf, decodeJwt(bound).cnf);
    assert.ok((answer.cnf as { jkt?: string } | undefined)?.jkt);
    const unbound = (await client.clientCredentialsGrant(config, { scope: 'read', resource: API }))
      .access_token;
    const plain = await client.tokenIntrospection(config, unbound);
    assert.equal(plain.active, true);
    assert.equal(plain.cnf, undefined);
  });

  it('decides for a bound token with a valid proof relayed by the service (POST /decide)', async () => {
    const answer = await fetchWithDpop('/docs/d1');
    assert.equal(answer.status, 200);
    assert.equal(answer.body.allow, true, JSON.stringify(answer.body));
    assert.equal(answer.body.rule, 'anyone-reads');
    assert.ok(last.proof, 'openid-client sent a DPoP header');
  });

  it('refuses a bound token without its proof, or with the same proof a second time', async () => {
    const without = await decide({ token: bound });
    assert.deepEqual(
      [without.body.allow, without.body.reason, without.body.detail],
      [false, 'subject_token_invalid', 'dpop'],
    );
    await fetchWithDpop('/docs/d1');
    assert.equal(last.answer.body.allow, true);
    const replayed = await decide({
      token: bound,
      dpop: { proof: last.proof, method: 'GET', url: last.url },
    });
    assert.equal(replayed.body.detail, 'dpop', 'a proof is good for one request');
  });

  it('holds /decide/plan to the same proof: never without one, once with one', async () => {
    const plan = async (subject: Record<string, unknown>) =>
      (await (
        await fetch(`${tg.url}/decide/plan`, {
          method: 'POST',
          headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
          body: JSON.stringify({ subject, action: 'read', resource: { type: 'Doc' } }),
        })
      ).json()) as Record<string, unknown>;
    const without = await plan({ token: bound });
    assert.deepEqual([without.plan, without.detail], [{ kind: 'never' }, 'dpop']);
    const dpop = { proof: await proof({}), method: 'GET', url: `${rsUrl}/docs/d1` };
    assert.deepEqual((await plan({ token: bound, dpop })).plan, { kind: 'always' });
    assert.equal((await plan({ token: bound, dpop })).detail, 'dpop', 'the proof was spent');
  });

  it('accepts one of N parallel uses of one proof', async () => {
    const once = await proof({});
    const answers = await Promise.all(
      Array.from({ length: 12 }, () =>
        decide({ token: bound, dpop: { proof: once, method: 'GET', url: `${rsUrl}/docs/d1` } }),
      ),
    );
    assert.equal(answers.filter((answer) => answer.body.allow === true).length, 1);
    assert.equal(answers.filter((answer) => answer.body.detail === 'dpop').length, 11);
  });

  it('refuses proofs for another method, URL, host, token or key, stale or future ones, without ath or jti, of another typ or alg, and garbage', async () => {
    const url = `${rsUrl}/docs/d1`;
    const other = await generateKeyPair('ES256');
    const otherToken = (await client.clientCredentialsGrant(config, { scope: 'read', resource: API }))
      .access_token;
    const attacks: [string, string, Record<string, unknown>?][] = [
      ['method', await proof({ htm: 'POST' })],
      ['URL', await proof({ htu: `${rsUrl}/docs/d2` })],
      ['host', await proof({ htu: url.replace('127.0.0.1', 'localhost') })],
      ['token', await proof({ ath: tokenHash(otherToken) })],
      ['no ath', await proof({ ath: undefined })],
      ['key', await proof({}, other)],
      ['stale', await proof({ iat: Math.floor(Date.now() / 1000) - 300 })],
      ['future', await proof({ iat: Math.floor(Date.now() / 1000) + 300 })],
      ['no jti', await proof({ jti: undefined })],
      [
        'typ',
        await dpopProof({ keys: keyPair, token: bound, htu: url, typ: 'JWT', claims: { ath: undefined } }),
      ],
      ['garbage', 'not.a.proof'],
      ['RS256 (not offered)', await proof({}, await generateKeyPair('RS256'), 'RS256')],
    ];
    for (const [name, attack] of attacks) {
      const answer = await decide({ token: bound, dpop: { proof: attack, method: 'GET', url } });
      assert.equal(answer.status, 200, name);
      assert.deepEqual([answer.body.allow, answer.body.detail], [false, 'dpop'], name);
    }
    // The same proof is fine for the request it was made for, query string aside.
    const good = await decide({
      token: bound,
      dpop: { proof: await proof({}), method: 'GET', url: `${url}?page=2` },
    });
    assert.equal(good.body.allow, true);
    // An unbound token needs no proof.
    assert.equal((await decide({ token: otherToken })).body.allow, true);
  });

  it('refuses a malformed dpop member with 400, naming the field', async () => {
    for (const [dpop, field] of [
      [{ proof: 'x', method: 'get', url: `${rsUrl}/d` }, 'subject.dpop.method'],
      [{ proof: 'x', method: 'GET', url: 'ftp://x/d' }, 'subject.dpop.url'],
      [{ proof: 'x', method: 'GET', url: '/relative' }, 'subject.dpop.url'],
      [{ proof: '', method: 'GET', url: `${rsUrl}/d` }, 'subject.dpop.proof'],
      [{ proof: 'x', method: 'GET', url: `${rsUrl}/d`, extra: 1 }, 'subject.dpop'],
    ] as const) {
      const answer = await decide({ token: bound, dpop });
      assert.equal(answer.status, 400, JSON.stringify(dpop));
      assert.match(
        String(answer.body.error_description),
        new RegExp(`^(${field.replaceAll('.', '\\.')}|unknown field)`),
      );
    }
  });

  it('lets a gateway pass a bound token with its proof (forward-auth), and only with it', async () => {
    const through = await fetchWithDpop('/docs/d1', 'gateway');
    assert.equal(through.status, 200, JSON.stringify(through.body));
    const asBearer = await forward({ method: 'GET', path: '/docs/d1', authorization: `Bearer ${bound}` });
    assert.equal(asBearer.status, 401);
    assert.match(String(asBearer.body.error_description), /\(dpop\)/);
    const noProof = await forward({ method: 'GET', path: '/docs/d1', authorization: `DPoP ${bound}` });
    assert.equal(noProof.status, 401);
    assert.match(
      noProof.challenge ?? '',
      /^DPoP algs="ES256 [^"]*", realm="tollgate", error="invalid_token", error_description="dpop"$/,
    );
    // A proof for another path of the same gateway, then the proof openid-client made, again.
    const elsewhere = await forward({
      method: 'GET',
      path: '/docs/d2',
      authorization: `DPoP ${bound}`,
      dpop: await proof({ htu: `${rsUrl}/docs/d1` }),
    });
    assert.equal(elsewhere.status, 401);
    await fetchWithDpop('/docs/d1', 'gateway');
    assert.equal(last.answer.status, 200);
    const replayed = await forward({
      method: 'GET',
      path: '/docs/d1',
      authorization: `DPoP ${bound}`,
      dpop: last.proof,
    });
    assert.equal(replayed.status, 401);
  });

  it('issues tokens for an API created with require_binding dpop only with a DPoP proof', async () => {
    const STRICT = 'https://strict.example.test';
    const created = await tg.admin$('POST', '/apis', {
      audience: STRICT,
      scopes: ['read'],
      require_binding: 'dpop',
    });
    assert.equal(created.status, 201);
    assert.equal(((await created.json()) as { require_binding: string }).require_binding, 'dpop');
    const strict = await createMachineClient(tg, { name: 'strict-app', scope: 'read', api: STRICT });
    await assert.rejects(
      client.clientCredentialsGrant(strict.config, { scope: 'read', resource: STRICT }),
      (error: client.ResponseBodyError) =>
        error.error === 'invalid_request' &&
        /accepts only DPoP-bound access tokens/.test(error.error_description ?? ''),
    );
    const strictHandle = client.getDPoPHandle(strict.config, await client.randomDPoPKeyPair('ES256'));
    const token = (
      await client.clientCredentialsGrant(
        strict.config,
        { scope: 'read', resource: STRICT },
        { DPoP: strictHandle },
      )
    ).access_token;
    assert.ok((decodeJwt(token).cnf as { jkt?: string }).jkt);
    // A value other than dpop, mtls or none is refused, naming the field.
    const bad = await tg.admin$('POST', '/apis', {
      audience: 'https://x.example.test',
      scopes: ['r'],
      require_binding: 'jwt',
    });
    assert.equal(bad.status, 400);
    assert.match(
      ((await bad.json()) as { error_description: string }).error_description,
      /^require_binding: must be dpop, mtls or none/,
    );
  });

  it('refuses at /decide an unbound token for an API that has come to require binding', async () => {
    const LATER = 'https://later.example.test';
    await createApi(tg, { audience: LATER, scopes: ['read'] });
    const later = await createMachineClient(tg, { name: 'later-app', scope: 'read', api: LATER });
    const unbound = (await client.clientCredentialsGrant(later.config, { scope: 'read', resource: LATER }))
      .access_token;
    assert.equal((await decide({ token: unbound })).body.allow, true);
    // As an operator's direct change (or an upgrade) would: no API is edited through the admin API.
    await tg.database.handle.db
      .updateTable('apis')
      .set({ token_binding: 'dpop' })
      .where('audience', '=', LATER)
      .execute();
    const deadline = Date.now() + 10_000;
    let answer = await decide({ token: unbound });
    while (answer.body.detail !== 'dpop' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      answer = await decide({ token: unbound });
    }
    assert.deepEqual([answer.body.allow, answer.body.detail], [false, 'dpop']);
  });

  it('never accepts a bound token as a Bearer caller token (/decide, /admin, /metrics)', async () => {
    const svc = await createMachineClient(tg, {
      name: 'bound-svc',
      scope: 'decide admin metrics',
      api: 'urn:tollgate',
    });
    const svcHandle = client.getDPoPHandle(svc.config, await client.randomDPoPKeyPair('ES256'));
    const boundCaller = (
      await client.clientCredentialsGrant(svc.config, { scope: 'decide admin metrics' }, { DPoP: svcHandle })
    ).access_token;
    assert.ok(decodeJwt(boundCaller).cnf);
    const decided = await decide({ id: 'u1' }, boundCaller);
    assert.equal(decided.status, 401);
    assert.match(String(decided.body.error_description), /bound to a key \(DPoP\)/);
    for (const path of ['/admin/clients', '/metrics']) {
      const response = await fetch(`${tg.url}${path}`, {
        headers: { authorization: `Bearer ${boundCaller}` },
      });
      assert.equal(response.status, 401, path);
    }
    // Its unbound twin works: the refusal is the binding, not the client.
    const plain = (await (await requestToken(tg.url, svc.created, { scope: 'decide' })).json()) as {
      access_token: string;
    };
    assert.equal((await decide({ id: 'u1' }, plain.access_token)).status, 200);
  });
});

describe('DPoP proofs across instances', { skip: skipUnless('postgres', 'redis') }, () => {
  let a: TestInstance;
  let b: TestInstance;
  const ENV = { REDIS_URL: process.env.TOLLGATE_TEST_REDIS_URL ?? '' };
  before(async () => {
    a = await startTestInstance(ENV);
    b = await startTestInstance(ENV, { shareWith: a });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  it('accepts a proof at one instance only: the jti is remembered in Redis', async () => {
    assert.equal(
      (await a.admin$('POST', '/policies', { files: [{ name: 'doc.yaml', content: POLICY }] })).status,
      201,
    );
    await createApi(a, { audience: API, scopes: ['read'] });
    const { config } = await createMachineClient(a, { name: 'app', scope: 'read', api: API });
    const keys = await client.randomDPoPKeyPair('ES256');
    const token = (
      await client.clientCredentialsGrant(
        config,
        { scope: 'read', resource: API },
        { DPoP: client.getDPoPHandle(config, keys) },
      )
    ).access_token;
    const svc = await createMachineClient(a, { name: 'svc', scope: 'decide', api: 'urn:tollgate' });
    const caller = (await client.clientCredentialsGrant(svc.config, { scope: 'decide' })).access_token;
    const url = 'https://docs.example.test/docs/d1';
    const proofFor = () => dpopProof({ keys, token, htu: url });
    const at = async (tg: TestInstance, once: string) => {
      const response = await fetch(`${tg.url}/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: { token, dpop: { proof: once, method: 'GET', url } },
          action: 'read',
          resource: { type: 'Doc', id: 'd1' },
        }),
      });
      return (await response.json()) as Record<string, unknown>;
    };
    const once = await proofFor();
    const first = await at(a, once);
    assert.equal(first.allow, true, JSON.stringify(first));
    const second = await at(b, once);
    assert.deepEqual([second.allow, second.detail], [false, 'dpop']);
    // b itself accepts a fresh proof (within a second it knows what a knows): the refusal was the jti.
    const deadline = Date.now() + 5000;
    let fresh = await at(b, await proofFor());
    while (fresh.allow !== true && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      fresh = await at(b, await proofFor());
    }
    assert.equal(fresh.allow, true, JSON.stringify(fresh));
  });
});
