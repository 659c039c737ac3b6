import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicySet, type DecisionRequest } from '../../src/pdp/index.ts';
import { compileSet, subject } from './policy-fixtures.ts';

const POLICY = `
resource: Invoice
rules:
  - id: clerks-read
    roles: [clerk]
    actions: [read]
    effect: allow
  - id: same-tenant
    roles: [accountant]
    actions: [read, update]
    effect: allow
    when: { tenant: "\${subject.attrs.tenant}" }
  - id: own
    roles: ["*"]
    actions: [read]
    effect: allow
    when: { ownerId: "\${subject.id}" }
`;

const read = (id: string, roles: string[], attrs: Record<string, unknown> = {}): DecisionRequest => ({
  subject: subject(id, roles, attrs),
  action: 'read',
  resource: { type: 'Invoice', attrs: { tenant: 'acme', ownerId: id } },
});

describe('ability cache', () => {
  it('builds once for a repeated key and then only reuses', () => {
    const set = compileSet({ 'invoice.yaml': POLICY });
    set.decide(read('u1', ['accountant'], { tenant: 'acme' }));
    const { builds } = set.cacheStats();
    for (let i = 0; i < 100; i++)
      assert.equal(set.decide(read('u1', ['accountant'], { tenant: 'acme' })).allow, true);
    assert.equal(set.cacheStats().builds, builds);
    assert.ok(set.cacheStats().hits >= 100);
  });

  it('ignores roles no rule names, role order and attributes no rule uses', () => {
    const set = compileSet({ 'invoice.yaml': POLICY });
    set.decide(read('u1', ['accountant', 'clerk'], { tenant: 'acme' }));
    const { builds } = set.cacheStats();
    set.decide(read('u1', ['clerk', 'accountant', 'intern', 'clerk'], { tenant: 'acme', shoeSize: 44 }));
    set.decide({ ...read('u1', ['clerk', 'accountant'], { tenant: 'acme' }), context: { ip: '10.0.0.1' } });
    assert.equal(set.cacheStats().builds, builds);
  });

  it('builds one new ability for a new subject when the subject has few rules', () => {
    const set = compileSet({ 'invoice.yaml': POLICY });
    set.decide(read('u1', ['clerk']));
    const { builds } = set.cacheStats();
    set.decide(read('u2', ['clerk']));
    assert.equal(set.cacheStats().builds, builds + 1);
  });

  it('rebuilds only the rules that mention the subject when the subject has many rules', () => {
    const many = Array.from(
      { length: 100 },
      (_, i) =>
        `  - { roles: [clerk], actions: [a${i}], effect: allow, when: { tenant: "\${subject.attrs.tenant}" } }`,
    );
    const set = compileSet({ 'invoice.yaml': `${POLICY}${many.join('\n')}\n` });
    set.decide(read('u1', ['clerk'], { tenant: 'acme' }));
    const before = set.cacheStats();
    assert.equal(set.decide(read('u2', ['clerk'], { tenant: 'acme' })).allow, true);
    const after = set.cacheStats();
    assert.deepEqual([after.builds - before.builds, after.rulesBuilt - before.rulesBuilt], [1, 1]);
  });

  it('never shares an ability between different placeholder values', () => {
    const set = compileSet({ 'invoice.yaml': POLICY });
    const ask = (tenant: unknown) =>
      set.decide({
        ...read('u9', ['accountant'], { tenant }),
        resource: { type: 'Invoice', attrs: { tenant: 'acme' } },
      }).allow;
    assert.equal(ask('acme'), true);
    assert.equal(ask('globex'), false);
    assert.equal(ask(['acme']), false);
    assert.equal(ask('acme'), true);
  });

  it('keeps "1" and 1 apart in cache keys', () => {
    const set = compileSet({ 'invoice.yaml': POLICY });
    const ask = (tenant: unknown) =>
      set.decide({
        ...read('u9', ['accountant'], { tenant }),
        resource: { type: 'Invoice', attrs: { tenant: 1 } },
      }).allow;
    assert.equal(ask(1), true);
    assert.equal(ask('1'), false);
  });

  it('does not keep abilities for huge attribute values beyond its byte bound', () => {
    const result = compilePolicySet([{ name: 'invoice.yaml', content: POLICY }], 1, { maxBytes: 1_000_000 });
    assert.ok(result.ok);
    const huge = 'x'.repeat(100_000);
    for (let i = 0; i < 50; i++) {
      const request = read(`u${i}`, ['accountant'], { tenant: `${huge}${i}` });
      assert.equal(result.set.decide(request).rule, 'own');
    }
    assert.ok(result.set.cacheStats().size <= 10, JSON.stringify(result.set.cacheStats()));
  });

  it('stays within its bound however many subjects ask', () => {
    const result = compilePolicySet([{ name: 'invoice.yaml', content: POLICY }], 1, { maxAbilities: 5 });
    assert.ok(result.ok);
    for (let i = 0; i < 50; i++) result.set.decide(read(`u${i}`, ['clerk']));
    assert.ok(result.set.cacheStats().size <= 6, JSON.stringify(result.set.cacheStats()));
    assert.equal(result.set.decide(read('u3', ['clerk'])).allow, true);
  });
});
