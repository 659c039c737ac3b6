import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type CompiledPolicySet,
  compilePolicySet,
  type PolicyFile,
  type PolicyProblem,
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
