import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

describe('health and HTTP hygiene', () => {
  let tg: TestInstance;
  before(async () => {
    tg = await startTestInstance();
  });
  after(() => tg.close());

  it('answers /healthz and /readyz with the database reachable', async () => {
    const health = await fetch(`${tg.url}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${tg.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', database: 'ok', accepting: true });
  });

  it('puts a request id on every response and keeps a well-formed incoming one', async () => {
    const generated = await fetch(`${tg.url}/healthz`);
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const kept = await fetch(`${tg.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(kept.headers.get('x-request-id'), 'abc-123');
    const replaced = await fetch(`${tg.url}/healthz`, { headers: { 'x-request-id': 'bad id <script>' } });
    assert.notEqual(replaced.headers.get('x-request-id'), 'bad id <script>');
    assert.ok(tg.logs.some((line) => line.includes('"reqId":"abc-123"')));
  });
});
