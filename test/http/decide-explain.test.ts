import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles, TENANT_MISMATCH } from '../helpers/policies.ts';
import { requestToken } from '../helpers/tokens.ts';

const TOLLGATE = 'urn:tollgate';
const subject = { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } };
const invoice = (attrs: Record<string, unknown>) => ({ type: 'Invoice', id: 'inv_1', attrs });
const single = { subject, action: 'read', resource: invoice({ tenant: 'globex' }) };

type Answer = Record<string, unknown> & {
  explanation?: { rules: { rule: string; outcome: string; decisive?: boolean; conditions?: unknown }[] };
};

describe('POST /decide with explain', () => {
  let tg: TestInstance;
  /** Client id and a token per kind of caller. */
  const callers: Record<string, { id: string; token: string }> = {};

  async function decide(body: unknown, token: string, path = '/decide') {
    const response = await fetch(`${tg.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Answer & { results?: Answer[] } };
  }

  async function caller(name: string, granted: string, asked: string) {
    const { created, config } = await createMachineClient(tg, { name, scope: granted, api: TOLLGATE });
    const token = (await client.clientCredentialsGrant(config, { scope: asked })).access_token;
    callers[name] = { id: created.client_id, token };
  }

  before(async () => {
    tg = await startTestInstance();
    assert.equal((await tg.admin$('POST', '/policies', { files: policyFiles() })).status, 201);
    await caller('gateway', 'decide', 'decide');
    await caller('explainer', 'decide decide:explain', 'decide decide:explain');
    // Granted the scope, but this token did not ask for it.
    await caller('holder', 'decide decide:explain', 'decide');
    await caller('operator', 'decide admin', 'decide admin');
    await caller('revoked', 'decide decide:explain', 'decide decide:explain');
  });
  after(() => tg.close());

  it('explains each decision to a caller with decide:explain, and the decision stays the same', async () => {
    const plain = await decide(single, callers.explainer!.token);
    const explained = await decide({ ...single, explain: true }, callers.explainer!.token);
    assert.equal(explained.status, 200);
    const { explanation, ...decision } = explained.body;
    assert.deepEqual(decision, plain.body);
    assert.equal(decision.allow, false);
    assert.equal(decision.reason, 'no_matching_rule');
    assert.deepEqual(
      explanation?.rules.map((rule) => [rule.rule, rule.outcome]),
      [
        ['paid-immutable', 'not_applicable'],
        ['read-own-tenant', 'not_matched'],
      ],
    );
    assert.deepEqual(explanation?.rules[1]?.conditions, TENANT_MISMATCH);
    // explain: false is an ordinary decision.
    assert.deepEqual((await decide({ ...single, explain: false }, callers.gateway!.token)).body, plain.body);
  });

  it('explains every check of a batch, in order, the deciding rule marked', async () => {
    const checks = [
      { action: 'update', resource: invoice({ tenant: 'acme', status: 'paid' }) },
      { action: 'read', resource: invoice({ tenant: 'acme' }) },
      { action: 'delete', resource: invoice({ tenant: 'acme' }) },
    ];
    const { status, body } = await decide({ subject, checks, explain: true }, callers.operator!.token);
    assert.equal(status, 200);
    const decisive = body.results?.map(
      (result) => result.explanation?.rules.find((rule) => rule.decisive)?.rule ?? null,
    );
    assert.deepEqual(decisive, ['paid-immutable', 'read-own-tenant', null]);
    assert.deepEqual(
      body.results?.map((result) => result.rule),
      decisive,
    );
  });

  /** tollgate_decisions_total over every label, from /metrics. */
  async function decisionsMade(): Promise<number> {
    const token = (
      (await (await requestToken(tg.url, tg.admin, { scope: 'metrics' })).json()) as { access_token: string }
    ).access_token;
    const text = await (
      await fetch(`${tg.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    ).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith('tollgate_decisions_total{'))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  }

  it('refuses explain (403, nothing decided) to a caller without the scope, or whose token did not ask for it', async () => {
    const before = await decisionsMade();
    for (const name of ['gateway', 'holder']) {
      const { status, body } = await decide({ ...single, explain: true }, callers[name]!.token);
      assert.equal(status, 403, name);
      assert.equal(body.error, 'insufficient_scope');
      assert.match(String(body.error_description), /^explain: needs .*decide:explain or admin/);
    }
    // /decide with a query string is /decide; other spellings are no endpoint at all.
    assert.equal(
      (await decide({ ...single, explain: true }, callers.gateway!.token, '/decide?explain=1')).status,
      403,
    );
    for (const path of ['/decide/', '/DECIDE', '/%64ecide'])
      assert.equal(
        (await decide({ ...single, explain: true }, callers.explainer!.token, path)).status,
        404,
        path,
      );
    const batch = await decide({ subject, checks: [single], explain: true }, callers.gateway!.token);
    assert.equal(batch.status, 400, 'a batch check has no subject: the body is refused first');
    const batchOk = await decide(
      { subject, checks: [{ action: 'read', resource: single.resource }], explain: true },
      callers.gateway!.token,
    );
    assert.equal(batchOk.status, 403);
    assert.equal(await decisionsMade(), before, 'no decision was made for a refused request');
    assert.equal((await decide(single, callers.gateway!.token)).status, 200);
    assert.equal(await decisionsMade(), before + 1, 'the counter counts');
  });

  it('stops explaining the moment the client loses the grant, while its token still lives', async () => {
    const { id, token } = callers.revoked!;
    assert.equal((await decide({ ...single, explain: true }, token)).status, 200);
    const regrant = await tg.admin$('PUT', `/clients/${id}/grants`, { api: TOLLGATE, scopes: ['decide'] });
    assert.equal(regrant.status, 200);
    const refused = await decide({ ...single, explain: true }, token);
    assert.equal(refused.status, 403);
    assert.equal((await decide(single, token)).status, 200, 'deciding itself is still granted');
  });

  it('explains at most 10 checks a request, and says so', async () => {
    const check = { action: 'read', resource: single.resource };
    const ten = await decide(
      { subject, checks: Array(10).fill(check), explain: true },
      callers.explainer!.token,
    );
    assert.equal(ten.status, 200);
    assert.equal(ten.body.results?.length, 10);
    const eleven = await decide(
      { subject, checks: Array(11).fill(check), explain: true },
      callers.explainer!.token,
    );
    assert.equal(eleven.status, 400);
    assert.equal(eleven.body.error_description, 'explain: at most 10 checks a request when explaining');
    const unexplained = await decide({ subject, checks: Array(11).fill(check) }, callers.explainer!.token);
    assert.equal(unexplained.status, 200, 'the bound is for explanations only');
  });

  it('refuses an explain that is not a boolean, naming the field', async () => {
    for (const explain of ['true', 1, null, {}]) {
      const { status, body } = await decide({ ...single, explain }, callers.explainer!.token);
      assert.equal(status, 400, JSON.stringify(explain));
      assert.equal(body.error, 'invalid_request');
      assert.match(String(body.error_description), /^explain: must be true or false/);
    }
  });

  it('says why nothing was evaluated for a refused subject token', async () => {
    const { status, body } = await decide(
      {
        subject: { token: 'not-a-token' },
        action: 'read',
        resource: invoice({ tenant: 'acme' }),
        explain: true,
      },
      callers.explainer!.token,
    );
    assert.equal(status, 200);
    assert.equal(body.reason, 'subject_token_invalid');
    assert.deepEqual(body.explanation, {
      strategy: 'deny-overrides',
      roles: [],
      rules: [],
      not_considered: [],
      because: 'the subject token was refused (malformed): no rule was evaluated',
    });
  });
});
