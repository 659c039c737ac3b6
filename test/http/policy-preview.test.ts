import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { INVOICE_POLICY } from '../helpers/policies.ts';
import {
  appendUnreadableRow,
  CANDIDATE_FILES,
  CURRENT_FILES,
  EXPECTED_FLIPS,
  EXPENSE_POLICY,
  groups,
  type PreviewReport,
  RECORDED,
  recordWorkload,
} from '../helpers/recorded-decisions.ts';

// Tenant names that appear nowhere else, so the hashed log can be searched for them.
const ACME = 'acme-7f3c';
const GLOBEX = 'globex-91d2';

/** An instance under `inputs`, the workload decided over HTTP and logged. */
async function recordedInstance(inputs: string): Promise<TestInstance> {
  const tg = await startTestInstance({ DECISION_LOG_INPUTS: inputs, AUDIT_FLUSH_MS: '20' });
  assert.equal((await tg.admin$('POST', '/policies', { files: CURRENT_FILES })).status, 201);
  await recordWorkload(tg, { acme: ACME, globex: GLOBEX }, { channel: 'kiosk-5b1e' });
  return tg;
}

async function preview(tg: TestInstance, body: unknown, path = '/policies/preview') {
  const response = await tg.admin$('POST', path, body);
  return {
    status: response.status,
    body: (await response.json()) as PreviewReport & Record<string, unknown>,
  };
}

describe('policy impact preview over the decision log (POST /admin/policies/preview)', () => {
  describe('with full inputs', () => {
    let tg: TestInstance;
    before(async () => {
      tg = await recordedInstance('full');
    });
    after(() => tg.close());

    it('shows exactly the flips a narrowing change makes, with the inputs as examples', async () => {
      const { status, body } = await preview(tg, { files: CANDIDATE_FILES, examples: 1 });
      assert.equal(status, 200);
      assert.equal(body.read, RECORDED);
      assert.equal(body.replayed, 39);
      assert.equal(body.flipped, 4);
      assert.deepEqual(groups(body), EXPECTED_FLIPS);
      assert.deepEqual(body.skipped, { no_inputs: 1, other_key: 0, ordered: {}, unreadable: 0 });
      assert.deepEqual(body.hashed, { replayed: 0, ordered_rules: {} });
      // The log is read newest first: bob's update is the newest that flipped.
      const [example] = body.flips[1]!.examples;
      assert.equal(example?.action, 'update');
      assert.equal(example?.subject.id, 'bob');
      assert.deepEqual(example?.subject.attrs, { tenant: GLOBEX });
      assert.deepEqual(example?.resource.attrs, { tenant: GLOBEX, status: 'open' });
      assert.equal(body.flips[0]!.examples.length, 1);
    });

    it('shows no flip for the set in force, and rule changes apart from flips', async () => {
      const same = await preview(tg, { files: CURRENT_FILES });
      assert.equal(same.body.flipped, 0);
      assert.equal(same.body.rule_changed, 0);
      assert.equal(same.body.replayed, 39);
      const renamed = CURRENT_FILES.map((file) => ({
        ...file,
        content: file.content.replace('read-own-tenant', 'tenant-staff'),
      }));
      const { body } = await preview(tg, { files: renamed });
      assert.equal(body.flipped, 0);
      assert.equal(body.rule_changed, 6);
    });

    it('replays ordering rules from full inputs, and counts types the candidate drops', async () => {
      const stricter = [
        { name: 'expense.yaml', content: EXPENSE_POLICY.replace('$lte: 1000', '$lte: 100') },
        { name: 'invoice.yaml', content: INVOICE_POLICY },
      ];
      const { body } = await preview(tg, { files: stricter });
      assert.deepEqual(groups(body), [
        { resource: 'Expense', from_rule: 'small-expenses', to_rule: null, change: 'allow→deny', count: 1 },
      ]);
      const invoicesOnly = await preview(tg, { files: [CURRENT_FILES[1]] });
      assert.deepEqual(invoicesOnly.body.unknown_types, { Expense: 3 });
    });

    it('reads only the window asked for, newest first up to the limit', async () => {
      const future = new Date(Date.now() + 60_000).toISOString();
      assert.equal((await preview(tg, { files: CANDIDATE_FILES, since: future })).body.read, 0);
      const past = new Date(Date.now() - 3_600_000).toISOString();
      assert.equal((await preview(tg, { files: CANDIDATE_FILES, until: past })).body.read, 0);
      const newest = await preview(tg, { files: CANDIDATE_FILES, limit: 1 });
      assert.equal(newest.body.read, 1);
      // The newest decision is the refused token's.
      assert.deepEqual(newest.body.skipped.no_inputs, 1);
    });

    it('refuses a candidate that does not compile or fails its tests, and bad parameters, naming the field', async () => {
      const broken = await preview(tg, {
        files: [{ name: 'invoice.yaml', content: 'resource: Invoice\nrules: 3\n' }],
      });
      assert.equal(broken.status, 400);
      assert.ok((broken.body.problems as unknown[]).length > 0);
      const failing = [
        ...CANDIDATE_FILES,
        {
          name: 'invoice.test.yaml',
          content: `cases:\n  - name: accountants update\n    subject: { id: a, roles: [accountant], attrs: { tenant: t } }\n    action: update\n    resource: { type: Invoice, attrs: { tenant: t, status: open } }\n    expect: allow\n`,
        },
      ];
      const failed = await preview(tg, { files: failing });
      assert.equal(failed.status, 400, JSON.stringify(failed.body));
      assert.equal((failed.body.failures as unknown[]).length, 1);
      for (const [body, field] of [
        [{ files: CANDIDATE_FILES, limit: 500_001 }, 'limit'],
        [{ files: CANDIDATE_FILES, limit: 0 }, 'limit'],
        [{ files: CANDIDATE_FILES, limit: '10' }, 'limit'],
        [{ files: CANDIDATE_FILES, since: 'yesterday' }, 'since'],
        [{ files: CANDIDATE_FILES, examples: 21 }, 'examples'],
        [{ files: CANDIDATE_FILES, dir: '/etc' }, 'dir'],
        [{ files: [] }, 'files'],
      ] as const) {
        const { status, body: error } = await preview(tg, body);
        assert.equal(status, 400, JSON.stringify(body));
        assert.equal(error.error, 'invalid_request');
        assert.match(String(error.error_description), new RegExp(field), JSON.stringify(error));
      }
    });

    it('is the admin API: other callers and other spellings get nothing', async () => {
      const { config } = await createMachineClient(tg, {
        name: 'peeker',
        scope: 'decide',
        api: 'urn:tollgate',
      });
      const token = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
      const denied = await fetch(`${tg.url}/admin/policies/preview`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ files: CANDIDATE_FILES }),
      });
      assert.equal(denied.status, 403);
      const anonymous = await fetch(`${tg.url}/admin/policies/preview`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ files: CANDIDATE_FILES }),
      });
      assert.equal(anonymous.status, 401);
      for (const path of [
        '/policies/Preview',
        '/Policies/preview',
        '/policies/preview/',
        '/policies/%70review',
      ]) {
        const { status } = await preview(tg, { files: CANDIDATE_FILES }, path);
        assert.ok(status === 404 || status === 405, `${path}: ${status}`);
      }
    });
  });

  describe('with hashed inputs', () => {
    let tg: TestInstance;
    before(async () => {
      tg = await recordedInstance('hashed');
    });
    after(() => tg.close());

    it('finds the same flips for equality-only rules, and says which rules it cannot judge', async () => {
      const { status, body } = await preview(tg, { files: CANDIDATE_FILES });
      assert.equal(status, 200);
      assert.equal(body.read, RECORDED);
      assert.deepEqual(groups(body), EXPECTED_FLIPS);
      assert.equal(body.replayed, 36);
      assert.deepEqual(body.hashed, { replayed: 36, ordered_rules: { Expense: ['small-expenses'] } });
      assert.deepEqual(body.skipped, { no_inputs: 1, other_key: 0, ordered: { Expense: 3 }, unreadable: 0 });
      // Examples keep the ids; every value is a digest.
      const example = body.flips[1]!.examples[0]!;
      assert.equal(example.subject.id, 'bob');
      assert.match(String(example.subject.attrs.tenant), /^[A-Za-z0-9_-]{22}$/);
      assert.notEqual(example.subject.attrs.tenant, GLOBEX);
      assert.equal(example.resource.attrs.tenant, example.subject.attrs.tenant);
    });

    it('stores no attribute or context value: the whole exported log lacks them', async () => {
      const text = await (await tg.admin$('GET', '/audit/export')).text();
      assert.ok(text.includes('"mode":"hashed"'), 'inputs are recorded');
      for (const value of [ACME, GLOBEX, '"open"', '"paid"', 'kiosk-5b1e', '"amount":987'])
        assert.ok(!text.includes(value), value);
      assert.ok(text.includes('"inv-a-open"'), 'ids stay as they are');
    });
  });

  describe('with inputs off', () => {
    let tg: TestInstance;
    before(async () => {
      tg = await recordedInstance('off');
    });
    after(() => tg.close());

    it('replays nothing and says why', async () => {
      const { body } = await preview(tg, { files: CANDIDATE_FILES });
      assert.equal(body.read, RECORDED);
      assert.equal(body.replayed, 0);
      assert.deepEqual(body.skipped, { no_inputs: RECORDED, other_key: 0, ordered: {}, unreadable: 0 });
    });

    it('counts the decisions of rows whose lines cannot be read, and replays none of them', async () => {
      await appendUnreadableRow(tg, 7);
      const { status, body } = await preview(tg, { files: CANDIDATE_FILES });
      assert.equal(status, 200);
      assert.equal(body.read, RECORDED, 'the readable rows are read');
      assert.equal(body.skipped.unreadable, 7);
      assert.equal(body.replayed, 0);
    });
  });
});
