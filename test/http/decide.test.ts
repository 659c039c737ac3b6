import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import * as client from 'openid-client';
import { createApi, createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';
import { loggedInUser } from '../helpers/users.ts';

type SigningKey = Parameters<SignJWT['sign']>[0];

const API = 'https://invoices.example.test';

describe('POST /decide', () => {
  let tg: TestInstance;
  let caller: string;
  let userToken: string;
  let version: number;

  async function decide(
    body: unknown,
    token = caller,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${tg.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const invoice = (attrs: Record<string, unknown>) => ({ type: 'Invoice', id: 'inv_1', attrs });

  before(async () => {
    tg = await startTestInstance({ SUBJECT_TOKEN_AUDIENCES: API });
    const pushed = await tg.admin$('POST', '/policies', { files: policyFiles() });
    assert.equal(pushed.status, 201);
    version = ((await pushed.json()) as { version: number }).version;
    await createApi(tg, { audience: 'https://other.example.test', scopes: ['read'] });
    const { config } = await createMachineClient(tg, {
      name: 'gateway',
      scope: 'decide',
      api: 'urn:tollgate',
    });
    caller = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;

    // carol signs in through the login form (code + PKCE) of a web client of API (ES256).
    userToken = (
      await loggedInUser(
        tg,
        { username: 'carol', password: 'carol password', roles: ['accountant'], attrs: { tenant: 'acme' } },
        { audience: API },
      )
    ).accessToken;
  });
  after(() => tg.close());

  describe('with an explicit subject', () => {
    const subject = { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } };

    it('allows by a rule and names it with the policy version', async () => {
      const { status, body } = await decide({
        subject,
        action: 'read',
        resource: invoice({ tenant: 'acme' }),
      });
      assert.equal(status, 200);
      assert.equal(body.allow, true);
      assert.equal(body.rule, 'read-own-tenant');
      assert.deepEqual(body.policy, { resource: 'Invoice', version });
    });

    it('lets a deny override an allow and gives its reason', async () => {
      const { body } = await decide({
        subject,
        action: 'update',
        resource: invoice({ tenant: 'acme', status: 'paid' }),
      });
      assert.equal(body.allow, false);
      assert.equal(body.rule, 'paid-immutable');
      assert.equal(body.reason, 'paid invoices are immutable');
    });

    it('denies by default with no_matching_rule', async () => {
      const { body } = await decide({ subject, action: 'read', resource: invoice({ tenant: 'globex' }) });
      assert.deepEqual(
        { allow: body.allow, reason: body.reason, rule: body.rule },
        { allow: false, reason: 'no_matching_rule', rule: null },
      );
    });

    it('answers a batch in order', async () => {
      const { status, body } = await decide({
        subject,
        checks: [
          { action: 'read', resource: invoice({ tenant: 'acme' }) },
          { action: 'read', resource: invoice({ tenant: 'globex' }) },
          { action: 'delete', resource: invoice({ tenant: 'acme', status: 'paid' }) },
          { action: 'update', resource: invoice({ tenant: 'acme', status: 'open' }) },
        ],
      });
      assert.equal(status, 200);
      assert.deepEqual(
        (body.results as { allow: boolean }[]).map((r) => r.allow),
        [true, false, false, true],
      );
    });

    it('refuses more than 100 checks', async () => {
      const checks = Array.from({ length: 101 }, () => ({
        action: 'read',
        resource: invoice({ tenant: 'acme' }),
      }));
      const { status, body } = await decide({ subject, checks });
      assert.equal(status, 400);
      assert.match(String(body.error_description), /checks/);
    });
  });

  describe('with the end user token as subject', () => {
    it('takes sub, roles and the user attributes from a valid token', async () => {
      const { body } = await decide({
        subject: { token: userToken },
        action: 'read',
        resource: invoice({ tenant: 'acme' }),
      });
      assert.equal(body.allow, true, JSON.stringify(body));
      const other = await decide({
        subject: { token: userToken },
        action: 'read',
        resource: invoice({ tenant: 'globex' }),
      });
      assert.equal(other.body.allow, false);
    });

    async function forged(
      mutate: (claims: Record<string, unknown>) => Record<string, unknown>,
      key?: SigningKey,
    ) {
      const claims = decodeJwt(userToken) as Record<string, unknown>;
      const kid = decodeProtectedHeader(userToken).kid;
      let signingKey = key;
      if (!signingKey) {
        const ringKey = tg.tollgate.ring.signingKeys().find((k) => k.kid === kid);
        assert.ok(ringKey);
        signingKey = ringKey.privateKey;
      }
      return new SignJWT(mutate(claims))
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .sign(signingKey);
    }

    const invalid = async (token: string, detail: string) => {
      const { status, body } = await decide({
        subject: { token },
        action: 'read',
        resource: invoice({ tenant: 'acme' }),
      });
      assert.equal(status, 200);
      assert.equal(body.allow, false);
      assert.equal(body.reason, 'subject_token_invalid');
      assert.equal(body.detail, detail);
    };

    it('denies an expired token (detail: expired)', async () => {
      const now = Math.floor(Date.now() / 1000);
      await invalid(await forged((c) => ({ ...c, iat: now - 600, exp: now - 300 })), 'expired');
    });

    it('denies a token for another audience (detail: audience)', async () => {
      await invalid(await forged((c) => ({ ...c, aud: 'https://other.example.test' })), 'audience');
    });

    it('takes subject.audience within SUBJECT_TOKEN_AUDIENCES, never beyond it', async () => {
      const ask = async (subject: Record<string, unknown>) =>
        (await decide({ subject, action: 'read', resource: invoice({ tenant: 'acme' }) })).body;
      assert.equal((await ask({ token: userToken, audience: API })).allow, true);
      assert.equal((await ask({ token: userToken, audience: [API, 'https://x.example.test'] })).allow, true);
      // A request cannot widen what the configuration accepts: the other API's token stays out.
      const other = await forged((c) => ({ ...c, aud: 'https://other.example.test' }));
      const widened = await ask({ token: other, audience: 'https://other.example.test' });
      assert.equal(widened.reason, 'subject_token_invalid');
      assert.equal(widened.detail, 'audience');
      const narrowed = await ask({ token: userToken, audience: 'https://other.example.test' });
      assert.equal(narrowed.detail, 'audience');
    });

    it('denies a tampered token (detail: signature)', async () => {
      const [header, , signature] = userToken.split('.');
      const payload = Buffer.from(JSON.stringify({ ...decodeJwt(userToken), roles: ['admin'] })).toString(
        'base64url',
      );
      await invalid(`${header}.${payload}.${signature}`, 'signature');
    });

    it('denies alg none and a token signed by a foreign key', async () => {
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${userToken.split('.')[1]}.`;
      await invalid(none, 'signature');
      const { privateKey } = await generateKeyPair('ES256');
      await invalid(await forged((c) => c, privateKey), 'signature');
    });

    it('denies a token revoked over HTTP by its own client on the next request', async () => {
      const { config } = await createMachineClient(tg, { name: 'revoking-svc', scope: 'read', api: API });
      const { access_token: token } = await client.clientCredentialsGrant(config, { scope: 'read' });
      const live = await decide({
        subject: { token },
        action: 'read',
        resource: invoice({ tenant: 'acme' }),
      });
      assert.notEqual(live.body.reason, 'subject_token_invalid');
      await client.tokenRevocation(config, token);
      await invalid(token, 'revoked');
    });
  });

  describe('caller authentication', () => {
    const body = { subject: { id: 'u1', roles: [], attrs: {} }, action: 'read', resource: invoice({}) };

    it('answers 401 without a caller token', async () => {
      const response = await fetch(`${tg.url}/decide`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 401);
    });

    it('answers 403 to a caller without the decide scope', async () => {
      assert.equal((await decide(body, await tg.adminToken())).status, 403);
    });

    it('answers 401 to an expired caller token', async () => {
      const kid = decodeProtectedHeader(caller).kid;
      const ringKey = tg.tollgate.ring.signingKeys().find((k) => k.kid === kid);
      assert.ok(ringKey);
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ ...decodeJwt(caller), iat: now - 900, exp: now - 600 })
        .setProtectedHeader({ alg: ringKey.alg, typ: 'at+jwt', kid })
        .sign(ringKey.privateKey);
      assert.equal((await decide(body, expired)).status, 401);
    });
  });

  describe('malformed input', () => {
    const subject = { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } };
    const deep = (n: number): unknown => (n === 0 ? 'acme' : { x: deep(n - 1) });
    const cases: [string, unknown][] = [
      ['not JSON', '{"subject": '],
      ['an array', '[1,2,3]'],
      ['null', 'null'],
      ['a number', '42'],
      ['empty object', {}],
      ['no subject', { action: 'read', resource: invoice({}) }],
      ['no action', { subject, resource: invoice({}) }],
      ['no resource', { subject, action: 'read' }],
      ['action a number', { subject, action: 7, resource: invoice({}) }],
      ['empty action', { subject, action: '', resource: invoice({}) }],
      ['resource a string', { subject, action: 'read', resource: 'Invoice' }],
      ['unknown resource type', { subject, action: 'read', resource: { type: 'Nope' } }],
      ['resource type an object', { subject, action: 'read', resource: { type: { $ne: 1 } } }],
      ['subject a string', { subject: 'u1', action: 'read', resource: invoice({}) }],
      ['subject token a number', { subject: { token: 5 }, action: 'read', resource: invoice({}) }],
      [
        'subject with token and id',
        { subject: { token: 'x', id: 'u1' }, action: 'read', resource: invoice({}) },
      ],
      ['roles not strings', { subject: { id: 'u1', roles: [{}] }, action: 'read', resource: invoice({}) }],
      [
        'roles a string',
        { subject: { id: 'u1', roles: 'accountant' }, action: 'read', resource: invoice({}) },
      ],
      ['unknown top-level field', { subject, action: 'read', resource: invoice({}), extra: 1 }],
      ['attrs an array', { subject, action: 'read', resource: { type: 'Invoice', attrs: ['acme'] } }],
      [
        '__proto__ in resource attrs',
        JSON.parse(
          '{"subject":{"id":"u1","roles":["accountant"],"attrs":{"tenant":"acme"}},"action":"read","resource":{"type":"Invoice","attrs":{"__proto__":{"tenant":"acme"}}}}',
        ),
      ],
      [
        '__proto__ in subject attrs',
        JSON.parse(
          '{"subject":{"id":"u1","roles":["accountant"],"attrs":{"__proto__":{"tenant":"acme"}}},"action":"read","resource":{"type":"Invoice","attrs":{"tenant":"acme"}}}',
        ),
      ],
      [
        'constructor in attrs',
        { subject, action: 'read', resource: invoice({ constructor: { prototype: { tenant: 'acme' } } }) },
      ],
      [
        'prototype key in context',
        { subject, action: 'read', resource: invoice({}), context: { prototype: 1 } },
      ],
      ['JSON nested 50 deep', { subject, action: 'read', resource: invoice({ tenant: deep(50) }) }],
      ['a 5 MB string', { subject, action: 'read', resource: invoice({ tenant: 'a'.repeat(5_000_000) }) }],
      [
        'a 10 kB attribute string',
        { subject, action: 'read', resource: invoice({ tenant: 'a'.repeat(10_000) }) },
      ],
      ['checks empty', { subject, checks: [] }],
      ['checks not an array', { subject, checks: { action: 'read' } }],
      ['a check without resource', { subject, checks: [{ action: 'read' }] }],
      [
        'a check with an unknown type',
        {
          subject,
          checks: [
            { action: 'read', resource: invoice({ tenant: 'acme' }) },
            { action: 'read', resource: { type: 'Nope' } },
          ],
        },
      ],
      ['context a string', { subject, action: 'read', resource: invoice({}), context: 'x' }],
      ['field a number', { subject, action: 'read', resource: invoice({}), field: 3 }],
    ];
    for (const [label, body] of cases) {
      it(`answers ${label} with 400 or a deny, never 500 and never an allow`, async () => {
        const { status, body: answer } = await decide(body);
        assert.ok(
          status === 400 || status === 413 || (status === 200 && answer.allow === false),
          `${status} ${JSON.stringify(answer).slice(0, 200)}`,
        );
        if (status !== 200) {
          assert.equal(typeof answer.error, 'string');
          assert.equal(typeof answer.error_description, 'string');
        }
      });
    }

    it('names the path of an oversized or reserved attribute', async () => {
      const long = await decide({
        subject,
        action: 'read',
        resource: invoice({ owner: { name: 'a'.repeat(5000) } }),
      });
      assert.equal(long.status, 400);
      assert.match(
        String(long.body.error_description),
        /^body\.resource\.attrs\.owner\.name: must be at most 4096 characters$/,
      );
      const reserved = await decide(
        JSON.parse(
          '{"subject":{"id":"u1","roles":[],"attrs":{"x":[{"constructor":1}]}},"action":"read","resource":{"type":"Invoice"}}',
        ),
      );
      assert.equal(reserved.status, 400);
      assert.match(
        String(reserved.body.error_description),
        /^body\.subject\.attrs\.x\.0\.constructor: reserved key$/,
      );
    });

    it('never lets attacker-shaped attributes cross tenants', async () => {
      for (const tenant of [['globex', 'acme'], { $ne: 'x' }, { $in: ['acme'] }, null, true, 1]) {
        const { body } = await decide({ subject, action: 'read', resource: invoice({ tenant }) });
        assert.equal(body.allow, false, JSON.stringify(tenant));
      }
      for (const tenant of [['globex', 'acme'], { $ne: 'x' }, null]) {
        const { status, body } = await decide({
          subject: { ...subject, attrs: { tenant } },
          action: 'read',
          resource: invoice({ tenant: 'acme' }),
        });
        assert.ok(status === 400 || body.allow === false, JSON.stringify(tenant));
      }
    });
  });

  describe('policy versions', () => {
    it('rejects an invalid set with messages and keeps serving the previous version', async () => {
      const before = await decide({
        subject: { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } },
        action: 'read',
        resource: invoice({ tenant: 'acme' }),
      });
      const bad = `resource: Invoice
rules:
  - id: broken
    roles: [accountant]
    actions: []
    effect: allow
    when: { tenant: "\${subject.nope}" }
`;
      const response = await tg.admin$('POST', '/policies', {
        files: [{ name: 'invoice.yaml', content: bad }],
      });
      assert.equal(response.status, 400);
      const rejected = (await response.json()) as { problems: { file: string; message: string }[] };
      assert.ok(rejected.problems.length >= 2, JSON.stringify(rejected));
      assert.ok(rejected.problems.every((p) => p.file === 'invoice.yaml'));
      const afterwards = await decide({
        subject: { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } },
        action: 'read',
        resource: invoice({ tenant: 'acme' }),
      });
      assert.deepEqual(afterwards.body, before.body);
    });

    it('rejects a set whose own tests fail, naming the failing case', async () => {
      const tests = `cases:
  - name: accountants read other tenants
    subject: { id: u1, roles: [accountant], attrs: { tenant: acme } }
    action: read
    resource: { type: Invoice, attrs: { tenant: globex } }
    expect: allow
`;
      const response = await tg.admin$('POST', '/policies', {
        files: [...policyFiles(), { name: 'invoice.test.yaml', content: tests }],
      });
      assert.equal(response.status, 400);
      const body = (await response.json()) as { failures: { name: string }[] };
      assert.equal(body.failures[0]?.name, 'accountants read other tenants');
    });
  });

  it('answers a query plan for a subject', async () => {
    const response = await fetch(`${tg.url}/decide/plan`, {
      method: 'POST',
      headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        subject: { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } },
        action: 'read',
        resource: { type: 'Invoice' },
      }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { plan: { kind: string; condition?: unknown } };
    assert.equal(body.plan.kind, 'conditional');
    assert.match(JSON.stringify(body.plan.condition), /acme/);
    const none = await fetch(`${tg.url}/decide/plan`, {
      method: 'POST',
      headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        subject: { id: 'u2', roles: [], attrs: {} },
        action: 'read',
        resource: { type: 'Invoice' },
      }),
    });
    assert.equal(((await none.json()) as { plan: { kind: string } }).plan.kind, 'never');
  });
});
