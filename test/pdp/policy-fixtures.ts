import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type CompiledPolicySet,
  compilePolicySet,
  type DecisionRequest,
  type PolicyFile,
  type PolicyProblem,
  type ResourceRef,
  type Subject,
} from '../../src/pdp/index.ts';

/** The shipped demo policy set. */
export const POLICY_DIR = resolve(import.meta.dirname, '../../policies');

export function shippedPolicyFiles(): PolicyFile[] {
  return readdirSync(POLICY_DIR)
    .filter((name) => /\.ya?ml$/.test(name))
    .map((name) => ({ name, content: readFileSync(join(POLICY_DIR, name), 'utf8') }));
}

const asFiles = (files: Record<string, string>): PolicyFile[] =>
  Object.entries(files).map(([name, content]) => ({ name, content }));

/** Compiles inline YAML files (name → content); fails the test with every problem if invalid. */
export function compileSet(files: Record<string, string>, version = 1): CompiledPolicySet {
  const result = compilePolicySet(asFiles(files), version);
  if (!result.ok) assert.fail(`policy set is invalid:\n${JSON.stringify(result.problems, null, 2)}`);
  return result.set;
}

/** The problems of an invalid set; fails the test when the set is valid. */
export function problemsOf(files: Record<string, string>): PolicyProblem[] {
  const result = compilePolicySet(asFiles(files), 1);
  if (result.ok) assert.fail('expected the policy set to be rejected');
  return result.problems;
}

export function subject(id: string, roles: string[], attrs: Record<string, unknown> = {}): Subject {
  return { id, roles, attrs };
}

/**
 * Requests over every action, field and role of the demo policies: 7 subjects × 7 resources ×
 * 6 actions × 3 fields × 2 contexts, odd shapes included (an array where a tenant should be,
 * a resource without attributes, a number as a string).
 */
export function* demoSweep(): Generator<DecisionRequest> {
  const subjects: Subject[] = [
    { id: 'u1', roles: ['customer'], attrs: { tenant: 'acme' } },
    { id: 'a1', roles: ['accountant'], attrs: { tenant: 'acme' } },
    { id: 'a1', roles: ['accountant', 'finance-manager'], attrs: { tenant: 'acme' } },
    { id: 'x', roles: ['admin'], attrs: {} },
    { id: 'x', roles: [], attrs: { tenant: 'acme' } },
    { id: 'x', roles: ['accountant'], attrs: { tenant: ['acme'] } },
    { id: 'u1', roles: ['auditor', 'contractor'], attrs: { tenant: 'acme' } },
  ];
  const resources: ResourceRef[] = [
    {
      type: 'Invoice',
      id: 'i1',
      attrs: { tenant: 'acme', ownerId: 'u1', status: 'sent', amount: 500, createdBy: 'a2' },
    },
    {
      type: 'Invoice',
      id: 'i2',
      attrs: { tenant: 'acme', status: 'paid', amount: 50_000, createdBy: 'a1' },
    },
    {
      type: 'Invoice',
      id: 'i3',
      attrs: { tenant: 'globex', ownerId: 'u1', status: 'draft', amount: '900' },
    },
    { type: 'Invoice', id: 'i4' },
    { type: 'Project', id: 'p1', attrs: { tenant: 'acme', members: ['u1'], status: 'active' } },
    { type: 'Project', id: 'p2', attrs: { tenant: 'acme', owner: { id: 'x' }, archived: true } },
    { type: 'Project', id: 'p3', attrs: { tenant: 'acme', region: 'eu', visibility: 'public' } },
  ];
  for (const subject of subjects)
    for (const resource of resources)
      for (const action of ['read', 'create', 'update', 'delete', 'approve', 'comment'])
        for (const field of [undefined, 'amount', 'internalNotes'])
          for (const context of [undefined, { region: 'eu' }])
            yield { subject, action, resource, ...(field ? { field } : {}), ...(context ? { context } : {}) };
}
