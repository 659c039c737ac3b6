import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { auditEventQueries } from '../../src/db/queries/audit-events.ts';
import { createMachineClient } from './fixtures.ts';
import type { TestInstance } from './instance.ts';
import { INVOICE_POLICY } from './policies.ts';

/**
 * A decision log to preview policy changes against (issue 13): the shared Invoice policy plus
 * an Expense type whose one rule orders amounts (hashed inputs cannot replay it), a candidate
 * that narrows a rule and adds one, and a workload decided over real HTTP.
 */
export const EXPENSE_POLICY = `resource: Expense
rules:
  - id: small-expenses
    roles: [accountant]
    actions: [approve]
    effect: allow
    when: { amount: { $lte: 1000 }, tenant: "\${subject.attrs.tenant}" }
`;

/** Accountants may no longer update; viewers may now read their tenant's invoices. */
export const NARROWED_INVOICE_POLICY = `${INVOICE_POLICY.replace('actions: [read, update]', 'actions: [read]')}  - id: viewers-read
    roles: [viewer]
    actions: [read]
    effect: allow
    when: { tenant: "\${subject.attrs.tenant}" }
`;

export const CURRENT_FILES = [
  { name: 'expense.yaml', content: EXPENSE_POLICY },
  { name: 'invoice.yaml', content: INVOICE_POLICY },
];
export const CANDIDATE_FILES = [
  { name: 'expense.yaml', content: EXPENSE_POLICY },
  { name: 'invoice.yaml', content: NARROWED_INVOICE_POLICY },
];

/** 36 Invoice decisions, 3 Expense decisions and one refused subject token. */
export const RECORDED = 40;

/** The groups of flips the candidate makes of the workload, without examples. */
export const EXPECTED_FLIPS = [
  { resource: 'Invoice', from_rule: null, to_rule: 'viewers-read', change: 'deny→allow', count: 2 },
  { resource: 'Invoice', from_rule: 'read-own-tenant', to_rule: null, change: 'allow→deny', count: 2 },
];

export interface PreviewReport {
  current_version: number;
  window: { since: string | null; until: string | null; limit: number };
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

/** A report's groups without their examples. */
export const groups = (report: PreviewReport) => report.flips.map(({ examples: _, ...group }) => group);

/** Who decides what: three subjects of two tenants, every check of each tenant's invoices. */
export function workload(tenants: { acme: string; globex: string }) {
  const subjects = [
    { id: 'ann', roles: ['accountant'], attrs: { tenant: tenants.acme } },
    { id: 'bob', roles: ['accountant'], attrs: { tenant: tenants.globex } },
    { id: 'cid', roles: ['viewer'], attrs: { tenant: tenants.acme } },
  ];
  // Per subject: 2 tenants × 2 statuses × 3 actions; ids do not name the tenant.
  const invoiceChecks = [tenants.acme, tenants.globex].flatMap((tenant) =>
    ['open', 'paid'].flatMap((status) =>
      ['read', 'update', 'delete'].map((action) => ({
        action,
        resource: {
          type: 'Invoice',
          id: `inv-${tenant === tenants.acme ? 'a' : 'g'}-${status}`,
          attrs: { tenant, status },
        },
      })),
    ),
  );
  const expenseCheck = {
    action: 'approve',
    resource: { type: 'Expense', id: 'exp-1', attrs: { amount: 987, tenant: tenants.acme } },
  };
  return { subjects, invoiceChecks, expenseCheck };
}

/**
 * Decides the workload through POST /decide under the set in force (CURRENT_FILES, pushed by
 * the caller): a batch and an Expense check per subject, then one refused subject token,
 * RECORDED decisions; and waits until the decision log, written off the request path, reads
 * all of them back.
 */
export async function recordWorkload(
  tg: TestInstance,
  tenants: { acme: string; globex: string },
  context?: Record<string, unknown>,
): Promise<void> {
  const { subjects, invoiceChecks, expenseCheck } = workload(tenants);
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
  for (const subject of subjects) {
    await decide({ subject, checks: invoiceChecks });
    await decide({ subject, ...expenseCheck, ...(context ? { context } : {}) });
  }
  await decide({ subject: { token: 'not-a-token' }, ...invoiceChecks[0] });
  for (let i = 0; ; i++) {
    const response = await tg.admin$('POST', '/policies/preview', { files: CURRENT_FILES });
    const { read } = (await response.json()) as PreviewReport;
    if (read === RECORDED) return;
    if (i > 100) assert.fail(`the log holds ${read} of ${RECORDED} decisions`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/**
 * Appends a packed decision row of `decisions` whose lines are in a segment file that does not
 * exist (an embedded instance's row read elsewhere, or a file deleted): a row no reader can
 * expand, on either engine. Its hash is no chain's; only verify would mind.
 */
export async function appendUnreadableRow(tg: TestInstance, decisions: number): Promise<void> {
  const data = {
    format: 'segment/1',
    file: 'decisions-20260101T000000-1.jsonl',
    offset: 0,
    bytes: 100,
    sha256: '0'.repeat(64),
    decisions,
  };
  // Through the writers' own append, under their lock: the instance's audit writer may be
  // appending at the same moment, and a row read-then-inserted beside it would take its seq.
  await auditEventQueries(tg.database.handle.db).append(
    [
      {
        occurred_at: new Date(),
        type: 'decision',
        actor: 'gw',
        subject: null,
        client_id: null,
        ip: null,
        data: JSON.stringify(data),
      },
    ],
    { keyId: 'unreadable', genesis: '0'.repeat(64), link: () => '1'.repeat(64) },
  );
}
