import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/net.ts';
import { requestToken } from '../helpers/tokens.ts';

// Several workers need a database several processes can share: PostgreSQL only.
const postgres = process.env.TOLLGATE_TEST_DATABASE_URL !== undefined;

describe('WORKERS=2: one instance, two processes on one port', {
  skip: !postgres && 'needs PostgreSQL',
}, () => {
  let dataDir: string;
  let database: TestDatabase;
  let child: ChildProcess;
  let url: string;
  let stderr = '';

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tollgate-workers-'));
    database = await openTestDatabase();
    await database.handle.close();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['src/main.ts'], {
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        DATABASE_URL: database.url ?? '',
        WORKERS: '2',
        LOG_LEVEL: 'info',
        PORT: String(port),
        ISSUER: url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    for (let i = 0; i < 600; i++) {
      // Both workers have said they listen.
      if ((stdout.match(/Tollgate listening/g) ?? []).length === 2) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`workers did not start: ${stderr}`);
  });

  after(async () => {
    child.kill('SIGKILL');
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates one admin client, serves tokens from both workers and drains both on SIGTERM', async () => {
    const admin = JSON.parse(readFileSync(join(dataDir, 'admin.json'), 'utf8')) as {
      client_id: string;
      client_secret: string;
    };
    const statuses = await Promise.all(
      Array.from({ length: 40 }, () => requestToken(url, admin, { scope: 'admin' }).then((r) => r.status)),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  });
});
