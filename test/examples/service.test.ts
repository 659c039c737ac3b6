import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { API, createDecideClient } from '../client/fixture.ts';
import { SYSTEM_NODE, skipUnless } from '../helpers/capabilities.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { loggedInUser } from '../helpers/users.ts';

const root = resolve(import.meta.dirname, '../..');
const example = join(root, 'examples/service');
// The system's Node where there is one (Debian's 20): the compiled export must run on it. The
// other tests need only some Node; the one about the system's is skipped (or, required, fails).
const NODE = existsSync(SYSTEM_NODE) ? SYSTEM_NODE : process.execPath;

/**
 * Installs the example as a service would: its own directory with Tollgate's package in
 * node_modules (a link, which is what `npm install` makes of its `file:../..` dependency).
 */
async function installExample(): Promise<string> {
  // The export is the compiled client, as `npm ci` builds it (prepare): built here from the
  // sources under test.
  await promisify(execFile)(join(root, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.client.json'], {
    cwd: root,
  });
  const dir = await mkdtemp(join(tmpdir(), 'invoice-service-'));
  await cp(example, dir, { recursive: true });
  await mkdir(join(dir, 'node_modules'));
  await symlink(root, join(dir, 'node_modules/tollgate'), 'dir');
  return dir;
}

function startService(
  dir: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; version: string }> {
  const child = spawn(NODE, ['server.js'], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env } });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the example did not start: ${output}`)), 15_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /listening on (\S+) \(Node (\S+)\)/.exec(output);
      if (match) {
        clearTimeout(timer);
        done({ child, url: match[1]!, version: match[2]! });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the example exited (${code}): ${output}`));
    });
  });
}

describe('examples/service: an invoice API guarded through tollgate/client', () => {
  let tg: TestInstance;
  let dir: string;
  let service: { child: ChildProcess; url: string; version: string };
  let token: string;

  before(async () => {
    tg = await startTestInstance();
    const policy = await readFile(join(example, 'policies/invoice.yaml'), 'utf8');
    assert.equal(
      (await tg.admin$('POST', '/policies', { files: [{ name: 'invoice.yaml', content: policy }] })).status,
      201,
    );
    const credentials = await createDecideClient(tg);
    const user = {
      username: 'alice',
      password: 'alice password',
      roles: ['accountant'],
      attrs: { tenant: 'acme' },
    };
    token = (await loggedInUser(tg, user, { audience: API })).accessToken;
    dir = await installExample();
    service = await startService(dir, {
      TOLLGATE_ISSUER: tg.issuer,
      TOLLGATE_CLIENT_ID: credentials.clientId,
      TOLLGATE_CLIENT_SECRET: credentials.clientSecret,
      INVOICE_API_AUDIENCE: API,
      PORT: String(await freePort()),
    });
  });
  after(async () => {
    if (service?.child.exitCode === null) {
      const exited = new Promise((done) => service.child.once('exit', done));
      service.child.kill('SIGTERM');
      await exited;
    }
    await tg.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const call = async (method: string, path: string, bearer?: string) => {
    const response = await fetch(`${service.url}${path}`, {
      method,
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('is part of what npm packs, though git ignores the build', async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
    });
    const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    const packed = new Set(pack.files.map((file) => file.path));
    for (const path of ['dist/client/index.js', 'dist/client/index.d.ts', 'package.json'])
      assert.ok(packed.has(path), `${path} is packed`);
    assert.ok(![...packed].some((path) => path.startsWith('test/') || path.startsWith('data/')));
  });

  it("runs on the system's Node", { skip: skipUnless('system-node') }, async () => {
    const { stdout } = await promisify(execFile)(NODE, ['--version']);
    assert.equal(service.version, stdout.trim());
  });

  it("lets an accountant read her tenant's invoice and refuses another tenant's", async () => {
    const own = await call('GET', '/invoices/inv-1', token);
    assert.deepEqual([own.status, own.body.id], [200, 'inv-1']);
    const other = await call('GET', '/invoices/inv-3', token);
    assert.deepEqual([other.status, other.body.error], [403, 'access_denied']);
    assert.equal((await call('GET', '/invoices/inv-unknown', token)).status, 403, 'no existence oracle');
  });

  it('refuses to void a paid invoice, with the policy reason, and voids an open one', async () => {
    const paid = await call('POST', '/invoices/inv-2/void', token);
    assert.deepEqual(paid, {
      status: 403,
      body: { error: 'access_denied', error_description: 'paid invoices are immutable' },
    });
    const open = await call('POST', '/invoices/inv-1/void', token);
    assert.deepEqual([open.status, open.body.status], [200, 'void']);
  });

  it('lists only the invoices the caller may read', async () => {
    const { status, body } = await call('GET', '/invoices', token);
    assert.equal(status, 200);
    assert.deepEqual(
      (body.invoices as { id: string }[]).map((invoice) => invoice.id),
      ['inv-1', 'inv-2'],
    );
  });

  it('answers 401 without a token or with a forged one', async () => {
    assert.equal((await call('GET', '/invoices/inv-1')).status, 401);
    assert.equal((await call('GET', '/invoices')).status, 401);
    const [header, payload] = token.split('.');
    assert.equal((await call('GET', '/invoices/inv-1', `${header}.${payload}.AAAA`)).status, 401);
  });
});
