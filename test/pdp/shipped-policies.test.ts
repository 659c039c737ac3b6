import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  compilePolicySet,
  formatTestFailures,
  policyJsonSchemas,
  runPolicyTests,
} from '../../src/pdp/index.ts';
import { POLICY_DIR, shippedPolicyFiles } from './policy-fixtures.ts';

describe('the shipped policies/', () => {
  const files = shippedPolicyFiles();
  const result = compilePolicySet(files, 1);

  it('compile without problems', () => {
    assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.problems, null, 2));
    assert.deepEqual(result.set.resources(), ['Invoice', 'Project']);
  });

  it('pass their own tests', () => {
    assert.ok(result.ok);
    assert.ok(result.tests.length >= 40, `only ${result.tests.length} cases`);
    const results = runPolicyTests(result.set, result.tests);
    assert.equal(formatTestFailures(results), '');
  });

  it('give the answer the README shows for a paid invoice', () => {
    assert.ok(result.ok);
    const decision = result.set.decide({
      subject: { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } },
      action: 'update',
      resource: { type: 'Invoice', id: 'inv_42', attrs: { ownerId: 'u1', tenant: 'acme', status: 'paid' } },
    });
    assert.deepEqual(decision, {
      allow: false,
      reason: 'paid invoices are immutable',
      policy: { resource: 'Invoice', version: 1 },
      rule: 'Invoice#1',
    });
  });

  it('publish gateway routes', () => {
    assert.ok(result.ok);
    assert.deepEqual(
      result.set.routes().find((route) => route.method === 'GET' && route.resource.type === 'Invoice'),
      {
        method: 'GET',
        path: '/tenants/:tenant/invoices/:id',
        action: 'read',
        resource: { type: 'Invoice', id: ':id', attrs: { tenant: ':tenant' } },
      },
    );
  });

  it('point editors at the schema', () => {
    for (const { name, content } of files) {
      const schema = name.endsWith('.test.yaml') ? './test-schema.json' : './schema.json';
      assert.ok(content.startsWith(`# yaml-language-server: $schema=${schema}\n`), name);
    }
  });

  // Set UPDATE_POLICY_SCHEMA=1 to rewrite the files after changing src/pdp/schema.ts.
  for (const [name, schema] of Object.entries(policyJsonSchemas())) {
    it(`ship a ${name} generated from the zod schema`, () => {
      const path = join(POLICY_DIR, name);
      const generated = `${JSON.stringify(schema, null, 2)}\n`;
      if (process.env.UPDATE_POLICY_SCHEMA === '1') writeFileSync(path, generated);
      assert.equal(
        readFileSync(path, 'utf8'),
        generated,
        `${name} is stale: run with UPDATE_POLICY_SCHEMA=1`,
      );
    });
  }
});
