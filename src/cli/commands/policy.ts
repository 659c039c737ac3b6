import type { PolicyVersionSummary } from '../../pdp/index.ts';
import { flag } from '../args.ts';
import type { Command } from '../command.ts';
import { usageError } from '../errors.ts';
import { table } from '../output.ts';
import { compileDir, dirDetails, policyDir, testOrFail } from './policy-dir.ts';
import {
  describeLog,
  LOG_PREVIEW_DETAILS,
  LOG_PREVIEW_OPTIONS,
  LOG_PREVIEW_SYNOPSIS,
  logPreviewRequest,
  previewLog,
  previewPolicies,
  refuseOverMaxFlips,
  type ServerPreviewReport,
} from './policy-preview.ts';

const dirOption = { dir: { type: 'string' } } as const;
const dirSynopsis = '[--dir DIR]';
const PUSH = 'policy push';

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

/**
 * With `--preview`, the candidate is first replayed against the decision log as `policy preview`
 * does, and `--max-flips` keeps a change that flips too much from being stored.
 */
const pushPolicies: Command = {
  path: ['policy', 'push'],
  options: { ...dirOption, preview: { type: 'boolean' }, ...LOG_PREVIEW_OPTIONS },
  synopsis: `${dirSynopsis} [--preview ${LOG_PREVIEW_SYNOPSIS}]`,
  summary: 'validate and test locally, then store the set as a new version (the server checks again)',
  details: [
    ...dirDetails,
    '--preview          first replay the recorded decisions against the set and print what flips',
    ...LOG_PREVIEW_DETAILS.map((line) =>
      line.replace(
        'exit 1 when more than N decisions flip',
        'store nothing and exit 1 when more than N flip',
      ),
    ),
  ],
  async run({ values }, ctx) {
    const previewing = flag(values, 'preview');
    if (!previewing) {
      const option = Object.keys(LOG_PREVIEW_OPTIONS).find((name) => values[name] !== undefined);
      if (option) throw usageError(`--${option} goes with --preview`, PUSH);
    }
    const request = previewing ? logPreviewRequest(values, PUSH) : undefined;
    const compiled = await compileDir(policyDir(values, ctx));
    testOrFail(compiled);
    let preview: ServerPreviewReport | undefined;
    let previewLines: string[] = [];
    if (request) {
      preview = await previewLog(ctx, compiled.files, request);
      previewLines = describeLog(preview);
      refuseOverMaxFlips(preview, request.maxFlips, previewLines, '; nothing pushed');
    }
    const pushed = (await (await ctx.admin()).request('POST', '/policies', { files: compiled.files })) as {
      version: number;
      resources: string[];
    };
    ctx.out.result(preview ? { ...pushed, preview } : pushed, () => [
      ...previewLines,
      `Policy version ${pushed.version} stored (${pushed.resources.join(', ')}); every instance uses it within a second.`,
    ]);
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
