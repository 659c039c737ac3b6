import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mongoQueryMatcher } from '@casl/ability';
import { compileSet, subject } from './policy-fixtures.ts';

/**
 * A subject of tenant "acme" must never get a resource of another tenant, whatever else the
 * caller sends. Values below are what a JSON body can carry: arrays, objects, operator-looking
 * objects, prototype keys (JSON.parse makes `__proto__` an own property), wrong types.
 */
const set = compileSet({
  'invoice.yaml': `
resource: Invoice
rules:
  - id: same-tenant
    roles: [accountant]
    actions: [read]
    effect: allow
    when: { tenant: "\${subject.attrs.tenant}" }
  - id: same-org-tenant
    roles: [auditor]
    actions: [read]
    effect: allow
    when: { org.tenant: "\${subject.attrs.org.tenant}" }
  - id: tenant-from-context
    roles: [gateway-user]
    actions: [read]
    effect: allow
    when: { tenant: "\${context.tenant}" }
  - id: not-blocked
    roles: [reader]
    actions: [read]
    effect: allow
    when: { tenant: "\${subject.attrs.tenant}", blocked: { $ne: true } }
`,
});

const json = (text: string): Record<string, unknown> => JSON.parse(text);

function decide(roles: string[], subjectAttrs: unknown, resourceAttrs: unknown, context?: unknown): boolean {
  return set.decide({
    subject: subject('u1', roles, subjectAttrs as Record<string, unknown>),
    action: 'read',
    resource: { type: 'Invoice', id: 'inv_1', attrs: resourceAttrs as Record<string, unknown> },
    context: context as Record<string, unknown>,
  }).allow;
}

describe('tenant isolation', () => {
  it('exists because stock MongoDB equality matches a list containing the value', () => {
    const stock = mongoQueryMatcher({ tenant: 'acme' });
    assert.equal(stock({ tenant: ['globex', 'acme'] }), true);
    assert.equal(decide(['accountant'], { tenant: 'acme' }, { tenant: ['globex', 'acme'] }), false);
  });

  it('allows the same tenant (the baseline the hostile cases vary)', () => {
    assert.equal(decide(['accountant'], { tenant: 'acme' }, { tenant: 'acme' }), true);
    assert.equal(decide(['auditor'], { org: { tenant: 'acme' } }, { org: { tenant: 'acme' } }), true);
    assert.equal(decide(['gateway-user'], {}, { tenant: 'acme' }, { tenant: 'acme' }), true);
  });

  const hostileResourceTenants: [string, unknown][] = [
    ['another tenant', 'globex'],
    ['a list containing the subject tenant', ['acme']],
    ['a list of tenants containing the subject tenant', ['globex', 'acme']],
    ['an object', { tenant: 'acme' }],
    ['a $ne operator object', { $ne: 'nobody' }],
    ['a $eq operator object', { $eq: 'acme' }],
    ['a $in operator object', { $in: ['acme'] }],
    ['null', null],
    ['a different case', 'ACME'],
    ['a padded string', ' acme'],
    ['true', true],
    ['a number', 0],
  ];
  for (const [name, tenant] of hostileResourceTenants) {
    it(`denies when the resource tenant is ${name}`, () => {
      assert.equal(decide(['accountant'], { tenant: 'acme' }, { tenant }), false);
      assert.equal(decide(['reader'], { tenant: 'acme' }, { tenant }), false);
    });
  }

  const hostileSubjectTenants: [string, unknown][] = [
    ['a list', ['globex', 'acme']],
    ['a $ne operator object', { $ne: null }],
    ['a $exists operator object', { $exists: true }],
    ['a $gt operator object', { $gt: '' }],
    ['null', null],
    ['an empty object', {}],
  ];
  for (const [name, tenant] of hostileSubjectTenants) {
    it(`denies when the subject tenant is ${name}`, () => {
      assert.equal(decide(['accountant'], { tenant }, { tenant: 'globex' }), false);
      assert.equal(decide(['accountant'], { tenant }, { tenant: 'acme' }), false);
      assert.equal(decide(['accountant'], { tenant }, {}), false);
    });
  }

  it('denies when the subject has no tenant and the resource has none either', () => {
    assert.equal(decide(['accountant'], {}, {}), false);
    assert.equal(decide(['accountant'], {}, { tenant: null }), false);
    assert.equal(decide(['gateway-user'], {}, {}, {}), false);
  });

  it('denies a nested tenant spread over a list of objects', () => {
    assert.equal(decide(['auditor'], { org: { tenant: 'acme' } }, { org: [{ tenant: 'acme' }] }), false);
    assert.equal(decide(['auditor'], { org: { tenant: 'acme' } }, { org: { tenant: ['acme'] } }), false);
    assert.equal(decide(['auditor'], { org: [{ tenant: 'acme' }] }, { org: { tenant: 'acme' } }), false);
  });

  it('ignores __proto__ keys on either side', () => {
    assert.equal(
      decide(['accountant'], json('{"__proto__": {"tenant": "acme"}}'), { tenant: 'acme' }),
      false,
    );
    assert.equal(
      decide(['accountant'], { tenant: 'acme' }, json('{"__proto__": {"tenant": "acme"}}')),
      false,
    );
    assert.equal(
      decide(['auditor'], { org: { tenant: 'acme' } }, json('{"org": {"__proto__": {"tenant": "acme"}}}')),
      false,
    );
    assert.equal(
      decide(['gateway-user'], {}, { tenant: 'acme' }, json('{"__proto__": {"tenant": "acme"}}')),
      false,
    );
  });

  it('ignores constructor and prototype keys on either side', () => {
    const sneaky = json('{"constructor": {"tenant": "acme"}, "prototype": {"tenant": "acme"}}');
    assert.equal(decide(['accountant'], sneaky, { tenant: 'acme' }), false);
    assert.equal(decide(['accountant'], { tenant: 'acme' }, sneaky), false);
  });

  it('is not fooled by a polluted Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.tenant = 'acme';
    try {
      assert.equal(decide(['accountant'], {}, { tenant: 'acme' }), false);
      assert.equal(decide(['accountant'], { tenant: 'acme' }, {}), false);
    } finally {
      delete proto.tenant;
    }
  });

  it('denies when the resource attrs are not an object', () => {
    for (const attrs of [undefined, null, 'acme', ['acme'], 42]) {
      assert.equal(decide(['accountant'], { tenant: 'acme' }, attrs), false, JSON.stringify(attrs));
    }
  });

  it('keeps a tenant rule from matching through a $ne clause on a hostile value', () => {
    assert.equal(decide(['reader'], { tenant: 'acme' }, { tenant: 'acme', blocked: ['x'] }), false);
    assert.equal(decide(['reader'], { tenant: 'acme' }, { tenant: 'acme' }), true);
  });

  it('plans "never" for a subject whose tenant is not a scalar', () => {
    for (const tenant of [['acme'], { $ne: null }, null]) {
      assert.deepEqual(set.plan(subject('u1', ['accountant'], { tenant }), 'read', 'Invoice'), {
        kind: 'never',
      });
    }
  });
});
