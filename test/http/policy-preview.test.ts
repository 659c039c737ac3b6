import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { AUDIT_SEGMENT_DIR } from '../../src/config/index.ts';
import { ENGINE } from '../helpers/database.ts';
import { createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { INVOICE_POLICY } from '../helpers/policies.ts';

/** A second type whose one rule orders amounts: hashed inputs cannot replay it. */
const EXPENSE_POLICY = `resource: Expense
rules:
  - id: small-expenses
    roles: [accountant]
    actions: [approve]
    effect: allow
    when: { amount: { $lte: 1000 }, tenant: "\${subject.attrs.tenant}" }
`;
const CURRENT = [
  { name: 'expense.yaml', content: EXPENSE_POLICY },
  { name: 'invoice.yaml', content: INVOICE_POLICY },
];
/** Accountants may no longer update; viewers may now read their tenant's invoices. */
const VIEWERS_READ = `  - id: viewers-read
    roles: [viewer]
    actions: [read]
    effect: allow
    when: { tenant: "\${subject.attrs.tenant}" }
`;
const CANDIDATE = [
  { name: 'expense.yaml', content: EXPENSE_POLICY },
  {
    name: 'invoice.yaml',
    content: INVOICE_POLICY.replace('actions: [read, update]', 'actions: [read]') + VIEWERS_READ,
  },
];

// Tenant names that appear nowhere else, so the hashed log can be searched for them.
const ACME = 'acme-7f3c';
const GLOBEX = 'globex-91d2';
const SUBJECTS = [
  { id: 'ann', roles: ['accountant'], attrs: { tenant: ACME } },
  { id: 'bob', roles: ['accountant'], attrs: { tenant: GLOBEX } },
  { id: 'cid', roles: ['viewer'], attrs: { tenant: ACME } },
];
/** Every subject × 2 tenants × 2 statuses × 3 actions: 36 Invoice decisions, 6 of them allowed. */
const INVOICE_CHECKS = [ACME, GLOBEX].flatMap((tenant) =>
  ['open', 'paid'].flatMap((status) =>
    ['read', 'update', 'delete'].map((action) => ({
      action,
      resource: {
        type: 'Invoice',
        id: `inv-${tenant === ACME ? 'a' : 'g'}-${status}`,
        attrs: { tenant, status },
      },
    })),
  ),
);
const EXPENSE_CHECK = {
  action: 'approve',
  resource: { type: 'Expense', id: 'exp-1', attrs: { amount: 987, tenant: ACME } },
};
/** 36 Invoice decisions, 3 Expense decisions, and one refused subject token: 40 in all. */
const RECORDED = 40;

interface Report {
  current_version: number;
  read: number;
  replayed: number;
  flipped: number;
  rule_changed: number;
  unknown_types: Record<string, number>;
  skipped: { no_inputs: number; other_key: number; ordered: Record<string, number>; unreadable: number };
  hashed: { replayed: number; ordered_rules: Record<string, string[]> };
  flips: {
    resource: string;
    from_rule: string | null;
    to_rule: string | null;
    change: string;
    count: number;
    examples: {
      subject: { id: string; attrs: Record<string, unknown> };
      action: string;
      resource: { id: string; attrs: Record<string, unknown> };
    }[];
  }[];
}

/** The groups of flips, without examples: what the narrowing change must produce exactly. */
const EXPECTED_FLIPS = [
  { resource: 'Invoice', from_rule: null, to_rule: 'viewers-read', change: 'deny→allow', count: 2 },
  { resource: 'Invoice', from_rule: 'read-own-tenant', to_rule: null, change: 'allow→deny', count: 2 },
];

/** An instance under `inputs`, the current set pushed and the workload decided over HTTP. */
async function recordedInstance(inputs: string): Promise<TestInstance> {
  const tg = await startTestInstance({ DECISION_LOG_INPUTS: inputs, AUDIT_FLUSH_MS: '20' });
  assert.equal((await tg.admin$('POST', '/policies', { files: CURRENT })).status, 201);
  const { config } = await createMachineClient(tg, { name: 'gateway', scope: 'decide', api: 'urn:tollgate' });
  const token = (await client.clientCredentialsGrant(config, { scope: 'decide' })).access_token;
  const decide = async (body: unknown) => {
    const response = await fetch(`${tg.url}/decide`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 200, await response.clone().text());
  };
  for (const subject of SUBJECTS) {
    await decide({ subject, checks: INVOICE_CHECKS });
    await decide({ subject, ...EXPENSE_CHECK, context: { channel: 'kiosk-5b1e' } });
  }
  await decide({ subject: { token: 'not-a-token' }, ...INVOICE_CHECKS[0] });
  // The log is written off the request path: wait until all of it reads back.
  for (let i = 0; ; i++) {
    const { body } = await preview(tg, { files: CURRENT });
    if ((body as Report).read === RECORDED) break;
    if (i > 100) assert.fail(`the log holds ${(body as Report).read} of ${RECORDED} decisions`);
    await new Promise((done) => setTimeout(done, 50));
  }
  return tg;
}

async function preview(tg: TestInstance, body: unknown, path = '/policies/preview') {
  const response = await tg.admin$('POST', path, body);
  return { status: response.status, body: (await response.json()) as Report & Record<string, unknown> };
}

const groups = (report: Report) => report.flips.map(({ examples: _, ...group }) => group);

describe('policy impact preview over the decision log (POST /admin/policies/preview)', () => {
  describe('with full inputs (the default)', () => {
    let tg: TestInstance;
    before(async () => {
      tg = await recordedInstance('full');
    });
    after(() => tg.close());

    it('shows exactly the flips a narrowing change makes, with the inputs as examples', async () => {
      const { status, body } = await preview(tg, { files: CANDIDATE, examples: 1 });
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
      const same = await preview(tg, { files: CURRENT });
      assert.equal(same.body.flipped, 0);
      assert.equal(same.body.rule_changed, 0);
      assert.equal(same.body.replayed, 39);
      const renamed = CURRENT.map((file) => ({
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
      const invoicesOnly = await preview(tg, { files: [CURRENT[1]] });
      assert.deepEqual(invoicesOnly.body.unknown_types, { Expense: 3 });
    });

    it('reads only the window asked for, newest first up to the limit', async () => {
      const future = new Date(Date.now() + 60_000).toISOString();
      assert.equal((await preview(tg, { files: CANDIDATE, since: future })).body.read, 0);
      const past = new Date(Date.now() - 3_600_000).toISOString();
      assert.equal((await preview(tg, { files: CANDIDATE, until: past })).body.read, 0);
      const newest = await preview(tg, { files: CANDIDATE, limit: 1 });
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
        ...CANDIDATE,
        {
          name: 'invoice.test.yaml',
          content: `cases:\n  - name: accountants update\n    subject: { id: a, roles: [accountant], attrs: { tenant: t } }\n    action: update\n    resource: { type: Invoice, attrs: { tenant: t, status: open } }\n    expect: allow\n`,
        },
      ];
      const failed = await preview(tg, { files: failing });
      assert.equal(failed.status, 400, JSON.stringify(failed.body));
      assert.equal((failed.body.failures as unknown[]).length, 1);
      for (const [body, field] of [
        [{ files: CANDIDATE, limit: 500_001 }, 'limit'],
        [{ files: CANDIDATE, limit: 0 }, 'limit'],
        [{ files: CANDIDATE, limit: '10' }, 'limit'],
        [{ files: CANDIDATE, since: 'yesterday' }, 'since'],
        [{ files: CANDIDATE, examples: 21 }, 'examples'],
        [{ files: CANDIDATE, dir: '/etc' }, 'dir'],
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
        body: JSON.stringify({ files: CANDIDATE }),
      });
      assert.equal(denied.status, 403);
      const anonymous = await fetch(`${tg.url}/admin/policies/preview`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ files: CANDIDATE }),
      });
      assert.equal(anonymous.status, 401);
      for (const path of [
        '/policies/Preview',
        '/Policies/preview',
        '/policies/preview/',
        '/policies/%70review',
      ]) {
        const { status } = await preview(tg, { files: CANDIDATE }, path);
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
      const { status, body } = await preview(tg, { files: CANDIDATE });
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
      const { body } = await preview(tg, { files: CANDIDATE });
      assert.equal(body.read, RECORDED);
      assert.equal(body.replayed, 0);
      assert.deepEqual(body.skipped, { no_inputs: RECORDED, other_key: 0, ordered: {}, unreadable: 0 });
    });

    it('counts the decisions of rows whose lines were edited, and replays none of them', {
      skip: ENGINE === 'postgres' ? 'segment files: the embedded database only' : false,
    }, async () => {
      // Every line names its resource type: each row's lines no longer match their digest.
      const dir = join(tg.dataDir, AUDIT_SEGMENT_DIR);
      for (const name of await readdir(dir)) {
        const file = join(dir, name);
        await writeFile(file, (await readFile(file, 'utf8')).replaceAll(/"(I|E)(nvoice|xpense)"/g, '"X$2"'));
      }
      const { status, body } = await preview(tg, { files: CANDIDATE });
      assert.equal(status, 200);
      assert.equal(body.read, 0);
      assert.equal(body.skipped.unreadable, RECORDED);
    });
  });
});
