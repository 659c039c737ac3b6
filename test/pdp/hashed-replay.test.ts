import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createInputHasher } from '../../src/audit/index.ts';
import { hashedPolicySet } from '../../src/pdp/hashed-replay.ts';
import { compilePolicySet, type DecisionRequest } from '../../src/pdp/index.ts';
import { compileSet, demoSweep, shippedPolicyFiles } from './policy-fixtures.ts';

const hasher = createInputHasher(randomBytes(32));
const hash = (value: string | number | boolean) => hasher.scalar(value);

/** A request as the decision log records it hashed, ids hashed as the replay hashes them. */
function hashedRequest(request: DecisionRequest): DecisionRequest {
  const { subject, resource } = request;
  return {
    ...request,
    subject: {
      id: hash(subject.id),
      roles: subject.roles,
      attrs: hasher.tree(subject.attrs) as Record<string, unknown>,
    },
    resource: {
      type: resource.type,
      ...(resource.id === undefined ? {} : { id: hash(resource.id) }),
      ...(resource.attrs === undefined
        ? {}
        : { attrs: hasher.tree(resource.attrs) as Record<string, unknown> }),
    },
    ...(request.context === undefined
      ? {}
      : { context: hasher.tree(request.context) as Record<string, unknown> }),
  };
}

describe('replaying hashed decision inputs (DECISION_LOG_INPUTS=hashed)', () => {
  const shipped = compilePolicySet(shippedPolicyFiles(), 1);
  if (!shipped.ok) throw new Error('the shipped policies do not compile');
  const hashed = hashedPolicySet(shipped.set, hash);

  it('decides every request about an equality-only type exactly as on the values', () => {
    let compared = 0;
    let allowed = 0;
    for (const request of demoSweep()) {
      if (hashed.ordered.has(request.resource.type)) continue;
      const clear = shipped.set.decide(request);
      assert.deepEqual(hashed.set.decide(hashedRequest(request)), clear, JSON.stringify(request));
      compared += 1;
      if (clear.allow) allowed += 1;
    }
    // Project: $all on members, a nested owner.id, $ne, a context placeholder, a boolean.
    assert.equal(compared, 7 * 3 * 6 * 3 * 2);
    assert.ok(allowed > 20, `${allowed} allowed: the comparison covers allows, not only denials`);
  });

  it('names exactly the rules that order values, by type', () => {
    assert.deepEqual(Object.fromEntries(hashed.ordered), {
      Invoice: ['accountant-approves-up-to-10000', 'finance-manager-approves-large'],
    });
  });

  it('keeps 1 apart from "1", null as absent, and the operands of $exists and $size', () => {
    const set = compileSet({
      'doc.yaml': `resource: Doc
rules:
  - id: numeric-one
    roles: [r]
    actions: [read]
    effect: allow
    when: { level: 1 }
  - id: no-owner
    roles: [r]
    actions: [list]
    effect: allow
    when: { owner: null, tags: { $size: 2 }, label: { $exists: true } }
  - id: listed
    roles: [r]
    actions: [tag]
    effect: allow
    when: { kind: { $in: [a, null, 3] }, tags: { $all: [x] } }
`,
    });
    const { set: replay, ordered } = hashedPolicySet(set, hash);
    assert.equal(ordered.size, 0);
    const subject = { id: 's', roles: ['r'], attrs: {} };
    const cases: [string, Record<string, unknown>, boolean][] = [
      ['read', { level: 1 }, true],
      ['read', { level: '1' }, false],
      ['read', { level: true }, false],
      ['list', { tags: ['a', 'b'], label: 'l' }, true],
      ['list', { owner: 'o', tags: ['a', 'b'], label: 'l' }, false],
      ['list', { tags: ['a'], label: 'l' }, false],
      ['list', { tags: ['a', 'b'] }, false],
      ['tag', { kind: 3, tags: ['x', 'y'] }, true],
      ['tag', { tags: ['x'] }, true],
      ['tag', { kind: '3', tags: ['x'] }, false],
      ['tag', { kind: 'a', tags: ['y'] }, false],
    ];
    for (const [action, attrs, allow] of cases) {
      const request = { subject, action, resource: { type: 'Doc', attrs } };
      assert.equal(set.decide(request).allow, allow, `clear ${action} ${JSON.stringify(attrs)}`);
      assert.equal(
        replay.decide(hashedRequest(request)).allow,
        allow,
        `hashed ${action} ${JSON.stringify(attrs)}`,
      );
    }
  });

  it('digests under another key differ, and a digest is 128 bits of base64url', () => {
    const other = createInputHasher(randomBytes(32));
    assert.notEqual(other.key, hasher.key);
    assert.notEqual(other.scalar('acme'), hasher.scalar('acme'));
    assert.match(hasher.scalar('acme'), /^[A-Za-z0-9_-]{22}$/);
    assert.equal(hasher.scalar('acme'), hasher.scalar('acme'));
    assert.deepEqual(hasher.tree({ a: [null, { b: 'acme' }] }), { a: [null, { b: hasher.scalar('acme') }] });
  });
});
