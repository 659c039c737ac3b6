import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/index.ts';
import { openTestDatabase, pgliteTemplateDir, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

describe('graceful shutdown on SIGTERM', () => {
  let dataDir: string;
  let database: TestDatabase | undefined;
  let child: ChildProcess;
  let url: string;
  let stderr = '';

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tollgate-shutdown-'));
    const env: Record<string, string> = { DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
    if (process.env.TOLLGATE_TEST_DATABASE_URL) {
      database = await openTestDatabase();
      env.DATABASE_URL = database.url ?? '';
      await database.handle.close();
    } else {
      // A copy of the prepared embedded database: the process opens it as its own.
      cpSync(pgliteTemplateDir(), join(dataDir, 'pglite'), { recursive: true });
    }
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(process.execPath, ['src/main.ts'], {
      env: { ...process.env, ...env, PORT: String(port), ISSUER: url },
    });
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    for (let i = 0; i < 200; i++) {
      if ((await fetch(`${url}/readyz`).catch(() => undefined))?.ok) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`service did not become ready: ${stderr}`);
  });

  after(async () => {
    child.kill('SIGKILL');
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes in-flight requests, then exits 0', async () => {
    const admin = JSON.parse(readFileSync(join(dataDir, 'admin.json'), 'utf8')) as {
      client_id: string;
      client_secret: string;
    };
    const tokenRequest = () =>
      requestToken(url, admin, { scope: 'admin' }).then(
        (response) => response.status,
        () => 'refused' as const,
      );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const inFlight = Array.from({ length: 50 }, tokenRequest);
    // Once the first answer is back, the others are being served: stop now.
    await Promise.race(inFlight);
    child.kill('SIGTERM');
    const statuses = await Promise.all(inFlight);
    const code = await exited;
    assert.equal(code, 0, stderr);
    // Every request either completed normally or was refused after the listener closed.
    for (const status of statuses) assert.ok(status === 200 || status === 'refused', `unexpected ${status}`);
    const issued = statuses.filter((s) => s === 200).length;
    assert.ok(issued > 1, `too few requests completed: ${statuses.join(',')}`);

    // The audit queue was written before the database closed: every token answered is there.
    const handle = database?.url
      ? await openDatabase({ kind: 'postgres', url: database.url })
      : await openDatabase({ kind: 'pglite', dataDir: join(dataDir, 'pglite') });
    try {
      const rows = await handle.db
        .selectFrom('audit_events')
        .select('seq')
        .where('type', '=', 'token.issued')
        .execute();
      assert.equal(rows.length, issued, 'one token.issued event per token answered');
    } finally {
      await handle.close();
    }
  });
});
