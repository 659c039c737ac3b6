import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/compose/index.ts';
import { pgliteTemplateDir } from '../helpers/database.ts';
import { createMachineClient } from '../helpers/fixtures.ts';
import { freePort, startTestInstance } from '../helpers/instance.ts';

const root = resolve(import.meta.dirname, '../..');
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** A destination that says it is a terminal, or not, and keeps what is written. */
function sink(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, destination: { isTTY, write: (text: string) => lines.push(text) } };
}

describe('service logs', () => {
  it('are JSON lines with ISO 8601 times when not on a terminal', () => {
    const { lines, destination } = sink(false);
    createLogger({ logLevel: 'info' }, destination).info({ port: 3000 }, 'Tollgate listening');
    const line = JSON.parse(lines.join('')) as { time: unknown; msg: string; port: number };
    assert.match(String(line.time), ISO);
    assert.equal(line.msg, 'Tollgate listening');
    assert.equal(line.port, 3000);
  });

  it('are one readable line per event, fields below, on a terminal', () => {
    const { lines, destination } = sink(true);
    createLogger({ logLevel: 'info' }, destination).warn({ path: '/srv/data' }, 'admin client created');
    const text = lines.join('');
    assert.throws(() => JSON.parse(text), 'not JSON');
    assert.match(text, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] .*WARN.*: .*admin client created/);
    assert.match(text, /\n {4}.*path.*: "\/srv\/data"/);
    const quiet = sink(true);
    createLogger({ logLevel: 'warn' }, quiet.destination).info('not shown');
    assert.deepEqual(quiet.lines, [], 'the level still applies');
  });

  it('name the request and the client on oidc-provider error lines', async () => {
    const tg = await startTestInstance();
    try {
      const { created } = await createMachineClient(tg, {
        name: 'grant-error',
        scope: 'decide',
        api: 'urn:tollgate',
      });
      const refused = await fetch(`${tg.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-request-id': 'req-grant-error-1',
          authorization: `Basic ${Buffer.from(`${created.client_id}:${created.client_secret}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: 'no-such-code',
          redirect_uri: 'https://x.example/cb',
        }),
      });
      assert.equal(refused.status, 400);
      const line = tg.logs
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'oidc grant.error' && l.reqId === 'req-grant-error-1');
      assert.ok(
        line,
        `no grant.error line for the request: ${tg.logs.filter((l) => l.includes('grant.error')).join('\n')}`,
      );
      assert.equal(line.client_id, created.client_id);
    } finally {
      await tg.close();
    }
  });

  it('say on shutdown which signal came, how many connections were drained and that the audit log was flushed', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-logs-'));
    try {
      cpSync(pgliteTemplateDir(), join(dataDir, 'pglite'), { recursive: true });
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const child = spawn(process.execPath, ['src/main.ts'], {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          DATA_DIR: dataDir,
          PORT: String(port),
          ISSUER: url,
          LOG_LEVEL: 'info',
          SHUTDOWN_DRAIN_MS: '200',
        },
      });
      let stdout = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      const exited = new Promise<number | null>((done) => child.on('close', done));
      for (let i = 0; i < 300 && !(await fetch(`${url}/readyz`).catch(() => undefined))?.ok; i++)
        await new Promise((done) => setTimeout(done, 100));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const lines = stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(
        lines.every((l) => ISO.test(String(l.time))),
        'ISO times throughout',
      );
      const dev = lines.find((l) => String(l.msg).includes('DEVELOPMENT key'));
      assert.ok(dev, 'the development-key warning is logged');
      const at = (msg: string) => lines.findIndex((l) => String(l.msg).startsWith(msg));
      const shutting = lines[at('shutting down')];
      assert.equal(shutting?.signal, 'SIGTERM');
      const http = lines[at('http server stopped')];
      assert.equal(typeof http?.connections, 'number');
      assert.equal(typeof http?.drained, 'number');
      const audit = lines[at('audit log flushed')];
      assert.equal(typeof audit?.rows, 'number');
      assert.ok(at('shutting down') < at('http server stopped'));
      assert.ok(at('http server stopped') < at('audit log flushed'));
      assert.ok(at('audit log flushed') < at('stopped'));
      assert.equal(lines[at('stopped')]?.signal, 'SIGTERM');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
