import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportAudit } from '../../src/audit/index.ts';
import { openDatabase } from '../../src/db/index.ts';
import { openTestDatabase, pgliteTemplateDir, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

/**
 * What became of a request fetch could not complete: 'refused' when nothing was listening any
 * more (the connection was never accepted), 'reset' when an accepted connection was closed under
 * it, else the error's code or message. Only 'refused' is a clean shutdown.
 */
function failureKind(error: unknown): 'refused' | 'reset' | string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? '';
  const message = `${(error as Error).message ?? ''} ${cause?.message ?? ''}`;
  if (code === 'ECONNREFUSED') return 'refused';
  if (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'UND_ERR_SOCKET' ||
    /socket hang up|other side closed|ECONNRESET/i.test(message)
  )
    return 'reset';
  return code || message.trim() || 'network error';
}

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

  it('finishes in-flight requests under load, writes the audit queue, then exits 0', async () => {
    const admin = JSON.parse(readFileSync(join(dataDir, 'admin.json'), 'utf8')) as {
      client_id: string;
      client_secret: string;
    };
    const tokenRequest = () =>
      requestToken(url, admin, { scope: 'admin' }).then((response) => response.status, failureKind);
    // A caller for /decide, so the load also runs on the fast path.
    const adminToken = (
      (await (await requestToken(url, admin, { scope: 'admin' })).json()) as {
        access_token: string;
      }
    ).access_token;
    const created = (await (
      await fetch(`${url}/admin/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'gw',
          grant_types: ['client_credentials'],
          scope: 'decide',
          api: 'urn:tollgate',
        }),
      })
    ).json()) as { client_id: string; client_secret: string };
    const decideToken = (
      (await (await requestToken(url, created, { scope: 'decide' })).json()) as {
        access_token: string;
      }
    ).access_token;
    const decideStatuses: (number | string)[] = [];
    let loading = true;
    // Each loop behaves like a load balancer: it stops sending to this instance once an answer
    // says Connection: close (as /readyz turns 503 at the same moment).
    const decideLoop = async () => {
      while (loading) {
        const status = await fetch(`${url}/decide`, {
          method: 'POST',
          headers: { authorization: `Bearer ${decideToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ subject: { id: 'u' }, action: 'read', resource: { type: 'Invoice' } }),
        }).then(async (response) => {
          await response.arrayBuffer();
          if (response.headers.get('connection') === 'close') loading = false;
          return response.status;
        }, failureKind);
        decideStatuses.push(status);
        if (typeof status === 'string') return;
      }
    };
    const load = Array.from({ length: 4 }, decideLoop);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const inFlight = Array.from({ length: 50 }, tokenRequest);
    // Once the first answer is back, the others are being served: stop now.
    await Promise.race(inFlight);
    child.kill('SIGTERM');
    const statuses = await Promise.all(inFlight);
    const code = await exited;
    loading = false;
    await Promise.all(load);
    assert.equal(code, 0, stderr);
    // Every request in flight either completed normally or was refused after the listener
    // closed: a reset means the process dropped a request it had accepted.
    const resets = statuses.filter((s) => s === 'reset').length;
    assert.equal(resets, 0, `in-flight token requests reset: ${statuses.join(',')}`);
    const unexpectedTokens = statuses.filter((s) => s !== 200 && s !== 'refused');
    assert.deepEqual(unexpectedTokens, [], 'every token request was answered 200 or refused after close');
    // Every request of the load was answered: no reset of a keep-alive connection being reused.
    const answered = decideStatuses.filter((s) => s === 200).length;
    const unexpected = decideStatuses.filter((s) => s !== 200 && s !== 'refused');
    assert.ok(answered > 10, `too few decisions answered: ${answered}`);
    assert.deepEqual(unexpected, [], 'every /decide was answered 200 (or refused after close)');
    const issued = statuses.filter((s) => s === 200).length;
    assert.ok(issued > 1, `too few requests completed: ${statuses.join(',')}`);

    // The audit queue was written before the database closed: every token answered is there.
    const handle = database?.url
      ? await openDatabase({ kind: 'postgres', url: database.url })
      : await openDatabase({ kind: 'pglite', dataDir: join(dataDir, 'pglite') });
    try {
      // Tokens answered together share rows (event-row.ts): count the events they hold.
      let recorded = 0;
      for await (const _ of exportAudit(handle, { type: 'token.issued' })) recorded += 1;
      // +2: the admin and the /decide caller tokens of the set-up.
      assert.equal(recorded, issued + 2, 'one token.issued event per token answered');
    } finally {
      await handle.close();
    }
  });
});
