import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CompiledPolicySet,
  type ConditionTrace,
  compilePolicySet,
  type DecisionRequest,
  type Explanation,
} from '../../src/pdp/index.ts';
import { TENANT_MISMATCH } from '../helpers/policies.ts';
import { compileSet, demoSweep, shippedPolicyFiles } from './policy-fixtures.ts';

const shipped = compilePolicySet(shippedPolicyFiles(), 1);
if (!shipped.ok) throw new Error('the shipped policies do not compile');

/** The rule the explanation marks decisive, or null under default deny. */
function decisiveRule(explanation: Explanation): string | null {
  const decisive = explanation.rules.filter((rule) => rule.decisive);
  assert.ok(decisive.length <= 1, 'at most one rule decides');
  return decisive[0]?.rule ?? null;
}

/** Every leaf of a condition trace, depth first. */
function leaves(trace: ConditionTrace | undefined): Extract<ConditionTrace, { attribute: string }>[] {
  if (!trace) return [];
  return 'of' in trace ? trace.of.flatMap(leaves) : [trace];
}

function agreeOn(set: CompiledPolicySet, request: DecisionRequest, label: string): Explanation {
  const before = set.decide(request);
  const explanation = set.explain(request);
  const after = set.decide(request);
  assert.deepEqual(after, before, `${label}: explaining changed the decision`);
  assert.equal(decisiveRule(explanation), before.rule, `${label}: decisive rule`);
  const decisive = explanation.rules.find((rule) => rule.decisive);
  if (decisive) assert.equal(decisive.effect === 'allow', before.allow, `${label}: effect`);
  return explanation;
}

describe('explain', () => {
  it('marks as decisive exactly the rule each demo policy test is decided by, and never changes it', () => {
    assert.ok(shipped.tests.length >= 40);
    for (const testCase of shipped.tests) {
      const explanation = agreeOn(shipped.set, testCase.request, `${testCase.file}: ${testCase.name}`);
      assert.equal(explanation.strategy, 'deny-overrides');
      // Denies are tried before allows, each as declared.
      const effects = explanation.rules.map((rule) => rule.effect);
      assert.deepEqual(
        effects,
        [...effects].sort((a, b) => (a === b ? 0 : a === 'deny' ? -1 : 1)),
      );
    }
  });

  it('agrees with decide across every action, field and role of the demo policies', () => {
    let compared = 0;
    for (const request of demoSweep()) {
      agreeOn(shipped.set, request, JSON.stringify(request));
      compared += 1;
    }
    assert.equal(compared, 7 * 7 * 6 * 3 * 2);
  });

  it('names the failed condition, with the placeholder resolved and the value the resource had', () => {
    const explanation = agreeOn(
      shipped.set,
      {
        subject: { id: 'a1', roles: ['accountant'], attrs: { tenant: 'acme' } },
        action: 'read',
        resource: { type: 'Invoice', id: 'i9', attrs: { tenant: 'globex', status: 'sent' } },
      },
      'cross-tenant read',
    );
    assert.deepEqual(explanation.roles, ['accountant']);
    const rule = explanation.rules.find((r) => r.rule === 'accountant-works-on-tenant-invoices');
    assert.deepEqual(rule, {
      rule: 'accountant-works-on-tenant-invoices',
      effect: 'allow',
      outcome: 'not_matched',
      conditions: TENANT_MISMATCH,
    });
    // Rules for roles the subject does not hold are listed apart, never as evaluated.
    assert.ok(explanation.not_considered.some((r) => r.rule === 'read-own' && r.roles.includes('customer')));
    assert.ok(!explanation.rules.some((r) => r.rule === 'read-own'));
    // The paid-invoice deny is for other actions: ruled out before its conditions.
    assert.deepEqual(
      explanation.rules.find((r) => r.rule === 'Invoice#1'),
      {
        rule: 'Invoice#1',
        effect: 'deny',
        outcome: 'not_applicable',
        because: 'action read is not one of update, delete',
      },
    );
  });

  it('shows a deny that wins over a matching allow, and every condition of a compound rule', () => {
    const explanation = agreeOn(
      shipped.set,
      {
        subject: { id: 'a1', roles: ['accountant'], attrs: { tenant: 'acme' } },
        action: 'approve',
        resource: {
          type: 'Invoice',
          id: 'i2',
          attrs: { tenant: 'acme', amount: 20_000, status: 'sent', createdBy: 'a1' },
        },
      },
      'four eyes',
    );
    const byId = new Map(explanation.rules.map((rule) => [rule.rule, rule]));
    assert.equal(byId.get('four-eyes')?.decisive, true);
    assert.equal(byId.get('four-eyes')?.outcome, 'matched');
    const approve = byId.get('accountant-approves-up-to-10000');
    assert.equal(approve?.outcome, 'not_matched');
    assert.deepEqual(
      leaves(approve?.conditions).map((leaf) => [
        leaf.attribute,
        leaf.operator,
        leaf.expected,
        leaf.actual,
        leaf.holds,
      ]),
      [
        ['tenant', '$eq', 'acme', 'acme', true],
        ['amount', '$lte', 10000, 20000, false],
        ['status', '$in', ['draft', 'sent'], 'sent', true],
      ],
    );
    assert.equal(approve?.decisive, undefined);
  });

  it('says why a rule with a missing placeholder value cannot grant, and why a deny then applies', () => {
    const set = compileSet({
      'doc.yaml': `
resource: Doc
rules:
  - id: same-team
    roles: [member]
    actions: [read]
    effect: allow
    when: { team: "\${subject.attrs.team}" }
  - id: embargo
    roles: [member]
    actions: [read]
    effect: deny
    when: { region: { $ne: "\${context.region}" } }
`,
    });
    const explanation = agreeOn(
      set,
      {
        subject: { id: 'm', roles: ['member'], attrs: {} },
        action: 'read',
        resource: { type: 'Doc', attrs: { team: 't1' } },
      },
      'missing values',
    );
    const [embargo, sameTeam] = explanation.rules;
    assert.equal(embargo?.rule, 'embargo');
    assert.equal(embargo?.outcome, 'matched');
    assert.match(embargo?.because ?? '', /\$\{context\.region\} has no value .* fails closed/);
    assert.deepEqual(leaves(embargo?.conditions)[0], {
      attribute: 'region',
      operator: '$ne',
      expected: null,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a policy placeholder, not a template
      placeholder: '${context.region}',
      absent: true,
      holds: null,
    });
    assert.equal(sameTeam?.outcome, 'not_matched');
    assert.match(sameTeam?.because ?? '', /\$\{subject\.attrs\.team\} has no value .* cannot grant/);
  });

  it('says when a value of the wrong kind makes conditions indeterminate, and what that counts as', () => {
    const explanation = agreeOn(
      shipped.set,
      {
        subject: { id: 'a1', roles: ['accountant'], attrs: { tenant: 'acme' } },
        action: 'read',
        resource: { type: 'Invoice', attrs: { tenant: ['acme', 'globex'] } },
      },
      'array tenant',
    );
    const rule = explanation.rules.find((r) => r.rule === 'accountant-works-on-tenant-invoices');
    assert.equal(rule?.outcome, 'not_matched');
    assert.equal(rule?.conditions?.holds, null);
    assert.match(rule?.because ?? '', /indeterminate .* no match for an allow/);
  });

  it('says why a field restriction rules a rule out', () => {
    const explanation = agreeOn(
      shipped.set,
      {
        subject: { id: 'u1', roles: ['customer'], attrs: { tenant: 'acme' } },
        action: 'read',
        resource: { type: 'Invoice', attrs: { tenant: 'acme', ownerId: 'u1' } },
      },
      'no field',
    );
    const notes = explanation.rules.find((r) => r.rule === 'customers-never-see-internal-notes');
    assert.equal(notes?.outcome, 'not_applicable');
    assert.match(notes?.because ?? '', /applies only when a field is asked/);
    const withField = agreeOn(
      shipped.set,
      {
        subject: { id: 'u1', roles: ['customer'], attrs: { tenant: 'acme' } },
        action: 'read',
        field: 'internalNotes',
        resource: { type: 'Invoice', attrs: { tenant: 'acme', ownerId: 'u1' } },
      },
      'internal notes',
    );
    assert.equal(withField.rules.find((r) => r.decisive)?.rule, 'customers-never-see-internal-notes');
  });

  it('refuses a resource type without a policy as decide does', () => {
    assert.throws(
      () =>
        shipped.set.explain({
          subject: { id: 'x', roles: [], attrs: {} },
          action: 'read',
          resource: { type: 'Nope' },
        }),
      /unknown resource type "Nope"/,
    );
  });
});
