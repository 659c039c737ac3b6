import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicySet, formatTestFailures, runPolicyTests } from '../../src/pdp/index.ts';

const POLICY = `
resource: Invoice
rules:
  - id: clerks-read
    roles: [clerk]
    actions: [read]
    effect: allow
`;

const TESTS = `
cases:
  - name: a clerk reads
    subject: { id: c1, roles: [clerk] }
    action: read
    resource: { type: Invoice, id: inv_1 }
    expect: allow
  - name: a clerk deletes (wrong on purpose)
    subject: { id: c1, roles: [clerk] }
    action: delete
    resource: { type: Invoice, id: inv_1 }
    expect: allow
  - name: a clerk reads for the wrong reason
    subject: { id: c1, roles: [clerk] }
    action: read
    resource: { type: Invoice }
    expect: allow
    reason: because
`;

describe('policy tests', () => {
  const result = compilePolicySet(
    [
      { name: 'invoice.yaml', content: POLICY },
      { name: 'invoice.test.yaml', content: TESTS },
    ],
    4,
  );
  assert.ok(result.ok);
  const results = runPolicyTests(result.set, result.tests);

  it('passes a case whose decision matches', () => {
    assert.deepEqual(
      results.map((r) => r.passed),
      [true, false, false],
    );
  });

  it('fails a case whose reason differs even when allow matches', () => {
    assert.equal(results[2]?.actual.allow, true);
    assert.equal(results[2]?.passed, false);
  });

  it('prints each failing case with file, name, expected and actual decision and reason', () => {
    assert.equal(
      formatTestFailures(results),
      [
        '✗ invoice.test.yaml › a clerk deletes (wrong on purpose)',
        '    expected: allow',
        '    actual:   deny (reason "no_matching_rule", no rule, Invoice policy v4)',
        '✗ invoice.test.yaml › a clerk reads for the wrong reason',
        '    expected: allow (reason "because")',
        '    actual:   allow (reason "allowed", rule clerks-read, Invoice policy v4)',
        '2 of 3 cases failed',
        '',
      ].join('\n'),
    );
  });

  it('prints nothing when every case passes', () => {
    assert.equal(formatTestFailures(results.filter((r) => r.passed)), '');
  });

  it('fails, rather than throws, a case about a type the set does not know', () => {
    const [first] = result.tests;
    assert.ok(first);
    const stray = { ...first, request: { ...first.request, resource: { type: 'Ghost' } } };
    const [outcome] = runPolicyTests(result.set, [stray]);
    assert.equal(outcome?.passed, false);
    assert.equal(outcome?.actual.reason, 'unknown_resource_type');
  });
});
