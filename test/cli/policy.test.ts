import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runTollgate } from '../helpers/cli.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const SHIPPED = resolve(import.meta.dirname, '../../policies');

describe('tollgate policy', () => {
  let tg: TestInstance;
  let work: string;

  before(async () => {
    tg = await startTestInstance();
    work = mkdtempSync(join(tmpdir(), 'tollgate-policies-'));
  });
  after(async () => {
    await tg.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** A copy of the shipped set, changed by `edit`. */
  function variant(name: string, edit: (dir: string) => void): string {
    const dir = join(work, name);
    cpSync(SHIPPED, dir, { recursive: true });
    edit(dir);
    return dir;
  }

  it('validates the shipped policies and runs their tests', async () => {
    const validate = await runTollgate(['policy', 'validate', '--dir', SHIPPED, '--json'], {});
    assert.equal(validate.code, 0, validate.stderr);
    assert.deepEqual(JSON.parse(validate.stdout).resources.sort(), ['Invoice', 'Project']);
    const test = await runTollgate(['policy', 'test', '--dir', SHIPPED], {});
    assert.equal(test.code, 0, test.stderr);
    assert.match(test.stdout, /^\d+ passed, 0 failed$/m);
  });

  it('lists every problem of an invalid set with file, rule and field, and exits 1', async () => {
    const dir = variant('invalid', (d) =>
      writeFileSync(
        join(d, 'invoice.yaml'),
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a policy placeholder, not a template
        'resource: Invoice\nrules:\n  - id: broken\n    roles: []\n    actions: [read]\n    effect: allow\n    when: { tenant: "${subject.nope}" }\n',
      ),
    );
    const run = await runTollgate(['policy', 'validate', '--dir', dir], {});
    assert.equal(run.code, 1);
    assert.match(run.stderr, /invoice\.yaml \[broken\] rules\.0\.roles: /);
    assert.match(run.stderr, /invoice\.yaml \[broken\] rules\.0\.when\.tenant: .*\$\{subject\.nope\}/);
  });

  it('prints each failing case with expected and actual decision and exits 1', async () => {
    const dir = variant('failing', (d) => {
      const path = join(d, 'invoice.test.yaml');
      writeFileSync(path, readFileSync(path, 'utf8').replace('expect: allow', 'expect: deny'));
    });
    const run = await runTollgate(['policy', 'test', '--dir', dir], {});
    assert.equal(run.code, 1);
    assert.match(run.stderr, /invoice\.test\.yaml/);
    assert.match(run.stderr, /expected: deny/);
    assert.match(run.stderr, /actual: +allow/);
    assert.match(run.stderr, /\d+ passed, 1 failed/);
  });

  it('prints failing cases as JSON on stdout with --json, the message on stderr, exit 1', async () => {
    const dir = variant('failing-json', (d) => {
      const path = join(d, 'invoice.test.yaml');
      writeFileSync(path, readFileSync(path, 'utf8').replace('expect: allow', 'expect: deny'));
    });
    const run = await runTollgate(['policy', 'test', '--dir', dir, '--json'], {});
    assert.equal(run.code, 1);
    const result = JSON.parse(run.stdout) as {
      passed: number;
      failed: number;
      failures: { file: string; name: string; expected: { allow: boolean }; actual: { allow: boolean } }[];
    };
    assert.equal(result.failed, 1);
    assert.ok(result.passed > 0);
    assert.equal(result.failures.length, 1);
    assert.match(result.failures[0]?.file ?? '', /invoice\.test\.yaml$/);
    assert.deepEqual([result.failures[0]?.expected.allow, result.failures[0]?.actual.allow], [false, true]);
    assert.match(run.stderr, /^tollgate: .*\n(.*\n)*\d+ passed, 1 failed\n$/);
  });

  it("prints an invalid set's problems as JSON with --json, exit 1", async () => {
    const dir = variant('invalid-json', (d) =>
      writeFileSync(
        join(d, 'invoice.yaml'),
        'resource: Invoice\nrules:\n  - id: broken\n    roles: []\n    actions: [read]\n    effect: allow\n',
      ),
    );
    for (const command of ['validate', 'test']) {
      const run = await runTollgate(['policy', command, '--dir', dir, '--json'], {});
      assert.equal(run.code, 1, command);
      const result = JSON.parse(run.stdout) as {
        valid: boolean;
        problems: { file: string; field?: string }[];
      };
      assert.equal(result.valid, false);
      assert.ok(result.problems.some((p) => p.file === 'invoice.yaml' && p.field === 'rules.0.roles'));
      assert.match(run.stderr, /^tollgate: 1 problem\(s\) in /);
    }
  });

  it('keeps errors that leave no result plain text on stderr with --json', async () => {
    const missing = await runTollgate(['policy', 'test', '--dir', join(work, 'absent'), '--json'], {});
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^tollgate: /);
    const usage = await runTollgate(['policy', 'test', '--dri', SHIPPED, '--json'], {});
    assert.equal(usage.code, 2);
    assert.equal(usage.stdout, '');
    assert.match(usage.stderr, /^tollgate: unknown option --dri; did you mean --dir\?/);
  });

  it('pushes a valid set as a new version, lists it as current, and refuses a failing one', async () => {
    const env = { DATA_DIR: tg.dataDir };
    const pushed = await runTollgate(['policy', 'push', '--dir', SHIPPED, '--json'], env);
    assert.equal(pushed.code, 0, pushed.stderr);
    const { version } = JSON.parse(pushed.stdout) as { version: number };
    assert.ok(version >= 2, 'POLICY_DIR seeded version 1 at start');
    const list = await runTollgate(['policy', 'list', '--json'], env);
    const { versions } = JSON.parse(list.stdout) as { versions: { version: number; current: boolean }[] };
    assert.deepEqual(versions.find((v) => v.current)?.version, version);

    const failing = variant('push-failing', (d) => {
      const path = join(d, 'project.test.yaml');
      writeFileSync(path, readFileSync(path, 'utf8').replace('expect: allow', 'expect: deny'));
    });
    const refused = await runTollgate(['policy', 'push', '--dir', failing], env);
    assert.equal(refused.code, 1);
    const refusedJson = await runTollgate(['policy', 'push', '--dir', failing, '--json'], env);
    assert.equal(refusedJson.code, 1);
    assert.equal(JSON.parse(refusedJson.stdout).failed, 1);
    const after = JSON.parse((await runTollgate(['policy', 'list', '--json'], env)).stdout) as {
      versions: { version: number }[];
    };
    assert.equal(after.versions[0]?.version, version, 'nothing new was stored');
  });
});
