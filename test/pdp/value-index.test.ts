import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileSet, subject } from './policy-fixtures.ts';

/**
 * With many allow rules that each require a literal value of one attribute, abilities file
 * rules by that value (CASL's subject-type index) so a request only tries the rules for its
 * resource's value. Decisions must be exactly what trying every rule would give.
 */
const PROJECTS = 40;
const rules = [
  '  - { id: locked, roles: ["*"], actions: ["*"], effect: deny, when: { project: p-7 } }',
  `  - { id: all-of-tenant, roles: [lead], actions: [read], effect: allow, when: { tenant: "\${subject.attrs.tenant}" } }`,
];
for (let i = 0; i < PROJECTS; i++)
  rules.push(
    `  - { id: p${i}, roles: [dev], actions: [${i % 2 ? 'read' : 'update'}], effect: allow,` +
      ` when: { project: p-${i}, tenant: "\${subject.attrs.tenant}" } }`,
  );
rules.push('  - { id: numbered, roles: [dev], actions: [read], effect: allow, when: { project: 1 } }');
const set = compileSet({ 'task.yaml': `resource: Task\nrules:\n${rules.join('\n')}\n` });

const ask = (roles: string[], action: string, attrs: Record<string, unknown>) =>
  set.decide({
    subject: subject('u1', roles, { tenant: 'acme' }),
    action,
    resource: { type: 'Task', attrs },
  });

describe('value index', () => {
  it('decides every project as trying every rule would', () => {
    for (let i = 0; i < PROJECTS + 2; i++)
      for (const action of ['read', 'update']) {
        const decision = ask(['dev'], action, { project: `p-${i}`, tenant: 'acme' });
        const granted = i < PROJECTS && (i % 2 ? 'read' : 'update') === action;
        const expected = i === 7 ? 'locked' : granted ? `p${i}` : null;
        assert.equal(decision.rule, expected, `p-${i} ${action}`);
        assert.equal(decision.allow, granted && i !== 7);
      }
  });

  it('still tries rules that do not require the indexed attribute', () => {
    assert.equal(ask(['lead'], 'read', { project: 'p-3', tenant: 'acme' }).rule, 'all-of-tenant');
    assert.equal(ask(['lead'], 'read', { tenant: 'acme' }).rule, 'all-of-tenant');
  });

  it('keeps 1 and "1" apart', () => {
    assert.equal(ask(['dev'], 'read', { project: 1, tenant: 'acme' }).rule, 'numbered');
    assert.equal(ask(['dev'], 'read', { project: '1', tenant: 'acme' }).allow, false);
  });

  it('grants nothing to a hostile value of the indexed attribute, and still lets denies fire', () => {
    for (const project of [['p-3'], { $eq: 'p-3' }, null, true]) {
      assert.equal(ask(['dev'], 'read', { project, tenant: 'acme' }).allow, false, JSON.stringify(project));
    }
    assert.equal(ask(['dev'], 'read', { project: ['p-7', 'p-3'], tenant: 'acme' }).rule, 'locked');
    assert.equal(ask(['lead'], 'read', { project: ['p-7'], tenant: 'acme' }).rule, 'locked');
  });

  it('plans over every value, not only one', () => {
    const plan = set.plan(subject('u1', ['dev'], { tenant: 'acme' }), 'read', 'Task');
    assert.equal(plan.kind, 'conditional');
    const text = JSON.stringify(plan);
    for (const id of ['p-1', 'p-39', 'p-7']) assert.ok(text.includes(`"${id}"`), id);
  });
});
