import type { PolicyVersionSummary } from '../../pdp/index.ts';
import type { Command } from '../command.ts';
import { failure } from '../errors.ts';
import { table } from '../output.ts';
import { compileDir, dirDetails, policyDir } from './policy-dir.ts';
import { previewPolicies } from './policy-preview.ts';

const dirOption = { dir: { type: 'string' } } as const;
const dirSynopsis = '[--dir DIR]';

/** Runs the set's own tests; any failure stops the command with each failing case shown. */
function testOrFail(compiled: Awaited<ReturnType<typeof compileDir>>) {
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

const validatePolicies: Command = {
  path: ['policy', 'validate'],
  options: dirOption,
  synopsis: dirSynopsis,
  summary: 'check the policy files (schema, placeholders, operators, rule ids) without a server',
  details: dirDetails,
  async run({ values }, ctx) {
    const dir = policyDir(values, ctx);
    const compiled = await compileDir(dir);
    const summary = {
      dir,
      resources: compiled.set.resources(),
      rules: compiled.set.ruleCount(),
      tests: compiled.tests.length,
    };
    ctx.out.result(
      summary,
      () =>
        `${dir}: valid (${summary.resources.join(', ')}; ${summary.rules} rules, ${summary.tests} test cases).`,
    );
  },
};

const testPolicies: Command = {
  path: ['policy', 'test'],
  options: dirOption,
  synopsis: dirSynopsis,
  summary: 'run the *.test.yaml cases against the policies; exits 1 on any failing case',
  details: dirDetails,
  async run({ values }, ctx) {
    const results = testOrFail(await compileDir(policyDir(values, ctx)));
    ctx.out.result({ passed: results.length, failed: 0 }, () => `${results.length} passed, 0 failed`);
  },
};

const pushPolicies: Command = {
  path: ['policy', 'push'],
  options: dirOption,
  synopsis: dirSynopsis,
  summary: 'validate and test locally, then store the set as a new version (the server checks again)',
  details: dirDetails,
  async run({ values }, ctx) {
    const compiled = await compileDir(policyDir(values, ctx));
    testOrFail(compiled);
    const pushed = (await (await ctx.admin()).request('POST', '/policies', { files: compiled.files })) as {
      version: number;
      resources: string[];
    };
    ctx.out.result(
      pushed,
      () =>
        `Policy version ${pushed.version} stored (${pushed.resources.join(', ')}); every instance uses it within a second.`,
    );
  },
};

const listPolicies: Command = {
  path: ['policy', 'list'],
  synopsis: '',
  summary: 'list the stored policy versions, newest first',
  async run(_invocation, ctx) {
    const result = (await (await ctx.admin()).request('GET', '/policies')) as {
      versions: PolicyVersionSummary[];
    };
    ctx.out.result(result, () =>
      table(
        ['VERSION', 'CURRENT', 'RESOURCES', 'CREATED_AT', 'CREATED_BY'],
        result.versions.map((v) => [
          String(v.version),
          v.current ? 'yes' : '',
          v.resources.join(','),
          v.created_at,
          v.created_by,
        ]),
        'No policy versions.',
      ),
    );
  },
};

export const policyCommands: readonly Command[] = [
  validatePolicies,
  testPolicies,
  pushPolicies,
  listPolicies,
  previewPolicies,
];
