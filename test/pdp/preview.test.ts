import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DecisionRequest, previewChange } from '../../src/pdp/index.ts';
import { INVOICE_POLICY } from '../helpers/policies.ts';
import { compileSet } from './policy-fixtures.ts';

// The shared test policy: accountants read and update their tenant's invoices, paid ones are immutable.
const CURRENT = INVOICE_POLICY;

// Narrowed: accountants may no longer update (read only), and drafts become readable by auditors.
const CANDIDATE = `${INVOICE_POLICY.replace('actions: [read, update]', 'actions: [read]')}  - id: auditors-read-drafts
    roles: [auditor]
    actions: [read]
    effect: allow
    when: { status: draft }
`;

const accountant = { id: 'a1', roles: ['accountant'], attrs: { tenant: 'acme' } };
const auditor = { id: 'au', roles: ['auditor'], attrs: {} };
const invoice = (status: string, tenant = 'acme') => ({
  type: 'Invoice',
  id: `i-${status}`,
  attrs: { tenant, status },
});

/** A workload as a decision log would hold it: n copies of each kind of request. */
function workload(): DecisionRequest[] {
  const kinds: [number, DecisionRequest][] = [
    [50, { subject: accountant, action: 'read', resource: invoice('sent') }], // allow → allow
    [30, { subject: accountant, action: 'update', resource: invoice('sent') }], // allow → deny
    [10, { subject: accountant, action: 'update', resource: invoice('paid') }], // deny → deny
    [7, { subject: auditor, action: 'read', resource: invoice('draft') }], // deny → allow
    [5, { subject: auditor, action: 'read', resource: invoice('sent') }], // deny → deny
    [4, { subject: accountant, action: 'read', resource: invoice('sent', 'globex') }], // deny → deny
  ];
  return kinds.flatMap(([n, request]) => Array.from({ length: n }, () => request));
}

describe('policy impact preview (previewChange)', () => {
  const current = compileSet({ 'invoice.yaml': CURRENT }, 1);

  it('reports exactly the decisions a narrowing change flips, grouped, with examples', () => {
    const report = previewChange(current, compileSet({ 'invoice.yaml': CANDIDATE }, 2), workload(), {
      examples: 2,
    });
    assert.equal(report.replayed, 106);
    assert.equal(report.flipped, 37);
    assert.equal(report.rule_changed, 0);
    assert.deepEqual(report.unknown_types, {});
    assert.deepEqual(
      report.flips.map(({ examples, ...group }) => ({ ...group, examples: examples.length })),
      [
        {
          resource: 'Invoice',
          from_rule: 'read-own-tenant',
          to_rule: null,
          change: 'allow→deny',
          count: 30,
          examples: 2,
        },
        {
          resource: 'Invoice',
          from_rule: null,
          to_rule: 'auditors-read-drafts',
          change: 'deny→allow',
          count: 7,
          examples: 2,
        },
      ],
    );
    assert.deepEqual(report.flips[0]?.examples[0], {
      subject: accountant,
      action: 'update',
      resource: invoice('sent'),
    });
  });

  it('reports no flip for an identical set, and counts a changed rule that keeps the answer apart', () => {
    const same = previewChange(current, compileSet({ 'invoice.yaml': CURRENT }, 2), workload());
    assert.deepEqual([same.replayed, same.flipped, same.rule_changed, same.flips], [106, 0, 0, []]);
    const renamed = CURRENT.replace('id: read-own-tenant', 'id: accountants-read-their-tenant');
    const report = previewChange(current, compileSet({ 'invoice.yaml': renamed }, 2), workload());
    assert.deepEqual([report.flipped, report.rule_changed], [0, 80]);
  });

  it('counts requests about a type either set lacks instead of calling them flips', () => {
    const project = `resource: Project
rules:
  - id: anyone
    roles: ["*"]
    actions: [read]
    effect: allow
`;
    const requests: DecisionRequest[] = [
      { subject: accountant, action: 'read', resource: { type: 'Project' } },
      { subject: accountant, action: 'read', resource: { type: 'Payroll' } },
      { subject: accountant, action: 'read', resource: invoice('sent') },
    ];
    const report = previewChange(
      current,
      compileSet({ 'invoice.yaml': CURRENT, 'project.yaml': project }, 2),
      requests,
    );
    assert.deepEqual(report.unknown_types, { Project: 1, Payroll: 1 });
    assert.equal(report.flipped, 0);
  });

  it('keeps a rule called "null" apart from default deny', () => {
    const named = CANDIDATE.replace('id: auditors-read-drafts', 'id: "null"');
    const report = previewChange(current, compileSet({ 'invoice.yaml': named }, 2), workload());
    assert.deepEqual(
      report.flips.map((group) => [group.from_rule, group.to_rule]),
      [
        ['read-own-tenant', null],
        [null, 'null'],
      ],
    );
  });
});
