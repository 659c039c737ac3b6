import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SERVICE_NODE_FLAGS } from '../../src/common/index.ts';
import { openDatabase } from '../../src/db/index.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/net.ts';
import { requestToken } from '../helpers/tokens.ts';

// Several workers need a database several processes can share: PostgreSQL only (below).

describe('WORKERS=2: one instance, two processes on one port', {
  skip: skipUnless('postgres'),
}, () => {
  let dataDir: string;
  let database: TestDatabase;
  let child: ChildProcess;
  let url: string;
  let stderr = '';
  let stdout = '';

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

  it("creates one admin client, serves tokens from both workers, runs them with the service's Node flags and drains both on SIGTERM", async () => {
    const admin = JSON.parse(readFileSync(join(dataDir, 'admin.json'), 'utf8')) as {
      client_id: string;
      client_secret: string;
    };
    // Both workers ran bootstrap on the empty database; only one may have created the client.
    const handle = await openDatabase({ kind: 'postgres', url: database.url ?? '' });
    try {
      const clients = await handle.db.selectFrom('clients').select(['client_id', 'name']).execute();
      assert.deepEqual(clients, [{ client_id: admin.client_id, name: 'tollgate-admin' }]);
    } finally {
      await handle.close();
    }

    // Each request carries its own id; the access log line for it names the process that served it.
    const ids = Array.from({ length: 40 }, (_, i) => `workers-${i}`);
    const statuses = await Promise.all(
      ids.map((id) =>
        requestToken(url, admin, { scope: 'admin' }, { 'x-request-id': id }).then((r) => r.status),
      ),
    );
    assert.deepEqual(new Set(statuses), new Set([200]));
    const servedBy = new Map<string, number>();
    const deadline = Date.now() + 10_000;
    while (servedBy.size < ids.length && Date.now() < deadline) {
      // The last piece may be a line still being written.
      for (const line of stdout.split('\n').slice(0, -1)) {
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as { msg?: string; reqId?: string; pid?: number; path?: string };
        if (entry.msg === 'request' && entry.path === '/token' && ids.includes(entry.reqId ?? ''))
          servedBy.set(entry.reqId as string, entry.pid as number);
      }
      if (servedBy.size < ids.length) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(servedBy.size, ids.length, 'every token request has its access log line');
    const pids = new Set(servedBy.values());
    assert.equal(pids.size, 2, `requests answered by two worker processes: ${[...pids].join(', ')}`);
    assert.ok(!pids.has(child.pid as number), 'the primary process serves no request itself');
    // Started as `node src/main.ts`, without the service's Node flags: its workers get them.
    for (const pid of pids) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      for (const flag of SERVICE_NODE_FLAGS)
        assert.ok(argv.includes(flag), `worker ${pid}: ${argv.join(' ')}`);
    }
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  });
});
