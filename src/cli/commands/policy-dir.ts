import { resolve } from 'node:path';
import { type OptionValues, optionalString } from '../args.ts';
import type { CommandContext } from '../command.ts';
import { failure } from '../errors.ts';

/** What the commands that read a policy directory share (policy, decide explain, policy preview). */
export const dirDetails = ['--dir              the policy directory (default: $POLICY_DIR or ./policies)'];

export function policyDir(values: OptionValues, ctx: CommandContext): string {
  return resolve(optionalString(values, 'dir') ?? (ctx.env.POLICY_DIR || './policies'));
}

/** Reads and compiles a directory; every problem is a failure listing them all. */
export async function compileDir(dir: string) {
  // Loaded when a policy command runs, not on every `tollgate` call: the compiler is heavy.
  const pdp = await import('../../pdp/index.ts');
  const { compilePolicySet, formatProblem, readPolicyDir } = pdp;
  const files = await readPolicyDir(dir);
  if (files.length === 0) throw failure(`no policy files (*.yaml) in ${dir}`);
  const compiled = compilePolicySet(files, 0);
  if (!compiled.ok) {
    throw failure(
      `${compiled.problems.length} problem(s) in ${dir}:\n${compiled.problems.map(formatProblem).join('\n')}`,
      { dir, valid: false, problems: compiled.problems },
    );
  }
  return { files, ...compiled, pdp };
}

/**
 * Runs the set's own tests; any failure stops the command with each failing case shown. What
 * the server checks before it stores or previews a set, checked here first.
 */
export function testOrFail(compiled: Awaited<ReturnType<typeof compileDir>>) {
  const { runPolicyTests, formatTestFailures } = compiled.pdp;
  const results = runPolicyTests(compiled.set, compiled.tests);
  const failed = results.filter((r) => !r.passed);
  if (failed.length > 0) {
    throw failure(
      `${formatTestFailures(results)}\n${results.length - failed.length} passed, ${failed.length} failed`,
      {
        passed: results.length - failed.length,
        failed: failed.length,
        failures: failed.map(({ case: testCase, actual }) => ({
          file: testCase.file,
          name: testCase.name,
          expected: { allow: testCase.expect === 'allow', reason: testCase.reason },
          actual: { allow: actual.allow, reason: actual.reason, rule: actual.rule },
        })),
      },
    );
  }
  return results;
}
