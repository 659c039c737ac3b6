import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ADMIN_CREDENTIALS_FILE, BUILTIN_API } from '../../src/admin/index.ts';
import { CHECKPOINT_FIELD } from '../../src/audit/index.ts';
import * as wire from '../../src/cli/wire.ts';
import { SYSTEM_NODE, skipUnless } from '../helpers/capabilities.ts';
import { type CliRun, runTollgate } from '../helpers/cli.ts';
import { freePort } from '../helpers/instance.ts';

const root = resolve(import.meta.dirname, '../..');

/** Runs bin/tollgate.js with another Node (or other Node flags) than the one running the tests. */
function runWith(node: string, nodeArgs: string[], args: string[]): Promise<CliRun> {
  const child = spawn(node, [...nodeArgs, 'bin/tollgate.js', ...args], {
    cwd: root,
    env: { PATH: '/usr/bin:/bin' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.end();
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('tollgate command line', () => {
  it('suggests the closest command and option, and nothing for a word far from all', async () => {
    const command = await runTollgate(['clinet', 'list'], {});
    assert.equal(command.code, 2);
    assert.match(command.stderr, /^tollgate: unknown command "clinet"; did you mean "client"\?\n/);
    const sub = await runTollgate(['client', 'lsit'], {});
    assert.equal(sub.code, 2);
    assert.match(sub.stderr, /^tollgate: unknown command "client lsit"; did you mean "client list"\?\n/);
    const option = await runTollgate(['api', 'create', '--audeince', 'x', '--scope', 'y'], {});
    assert.equal(option.code, 2);
    assert.match(option.stderr, /^tollgate: unknown option --audeince; did you mean --audience\?\n/);
    const global = await runTollgate(['--jsno', 'client', 'list'], {});
    assert.equal(global.code, 2);
    assert.match(global.stderr, /^tollgate: unknown option --jsno; did you mean --json\?\n/);
    const far = await runTollgate(['frobnicate'], {});
    assert.equal(far.code, 2);
    assert.match(far.stderr, /^tollgate: unknown command "frobnicate"\n/);
    assert.ok(!far.stderr.includes('did you mean'));
  });

  it('names every missing required option and argument in one error', async () => {
    const api = await runTollgate(['api', 'create'], {});
    assert.equal(api.code, 2);
    assert.match(api.stderr, /^tollgate: --audience and --scope are required\nUsage: tollgate api create/);
    const client = await runTollgate(['client', 'create'], {});
    assert.match(client.stderr, /^tollgate: --name and --grant are required\n/);
    const grant = await runTollgate(['client', 'grant'], {});
    assert.match(grant.stderr, /^tollgate: CLIENT_ID and --api are required\n/);
    const gateway = await runTollgate(['gateway', 'create', '--api', 'https://a.example'], {});
    assert.match(gateway.stderr, /^tollgate: --name is required\n/);
  });

  it('takes --url over TOLLGATE_URL over admin.json, as its help says', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-target-'));
    try {
      const [option, env, file] = await Promise.all([freePort(), freePort(), freePort()]);
      const url = (port: number) => `http://127.0.0.1:${port}`;
      writeFileSync(
        join(dataDir, 'admin.json'),
        JSON.stringify({ url: url(file), client_id: 'admin', client_secret: 'not-a-real-secret' }),
      );
      const reached = async (args: string[], extra: Record<string, string>) => {
        const run = await runTollgate([...args, 'api', 'list'], { DATA_DIR: dataDir, ...extra });
        assert.equal(run.code, 1, run.stderr);
        return /cannot reach http:\/\/127\.0\.0\.1:(\d+)\//.exec(run.stderr)?.[1];
      };
      assert.equal(await reached(['--url', url(option)], { TOLLGATE_URL: url(env) }), String(option));
      assert.equal(await reached([], { TOLLGATE_URL: url(env) }), String(env));
      assert.equal(await reached([], {}), String(file));
      const help = await runTollgate(['--help'], {});
      assert.match(
        help.stdout,
        /--url URL +.*default: \$TOLLGATE_URL, else "url" in \$DATA_DIR\/admin\.json, else/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('shares the wire names with the server', () => {
    assert.equal(wire.TOLLGATE_AUDIENCE, BUILTIN_API.audience);
    assert.equal(wire.ADMIN_CREDENTIALS_FILE, ADMIN_CREDENTIALS_FILE);
    assert.equal(wire.CHECKPOINT_FIELD, CHECKPOINT_FIELD);
  });
});

describe('bin/tollgate.js on a Node without TypeScript', () => {
  it('re-runs itself on the project Node, passing arguments, output and exit code through', async () => {
    const help = await runWith(process.execPath, ['--no-experimental-strip-types'], ['client', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: tollgate \[--url URL\] \[--json\] client/);
    const wrong = await runWith(process.execPath, ['--no-experimental-strip-types'], ['frobnicate']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^tollgate: unknown command "frobnicate"/);
  });

  it('passes a signal on to the re-run CLI and dies of it too', async () => {
    // user create --password-stdin waits for stdin to end: it is still running when the signal comes.
    const child = spawn(
      process.execPath,
      [
        '--no-experimental-strip-types',
        'bin/tollgate.js',
        'user',
        'create',
        '--username',
        'x',
        '--password-stdin',
      ],
      { cwd: root, env: { PATH: '/usr/bin:/bin' } },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const closed = new Promise<NodeJS.Signals | null>((done) =>
      child.on('close', (_code, signal) => done(signal)),
    );
    await new Promise((done) => setTimeout(done, 2000));
    child.kill('SIGTERM');
    const timeout = new Promise<string>((done) => setTimeout(() => done('still running'), 10_000).unref());
    const outcome = await Promise.race([closed, timeout]);
    child.stdin.end();
    assert.equal(outcome, 'SIGTERM');
    // Left behind, the re-run CLI would go on to find stdin closed and say so; signalled, it says nothing.
    assert.equal(stderr, '');
  });

  it("runs with the system's Node 20", { skip: skipUnless('system-node') }, async () => {
    const run = await runWith(SYSTEM_NODE, [], ['--help']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Usage: tollgate /);
    assert.equal(run.stderr, '');
  });
});
