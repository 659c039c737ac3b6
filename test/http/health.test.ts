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

  it('answers unknown endpoints, non-JSON and oversized bodies in OAuth error shape, never 500', async () => {
    const missing = await fetch(`${tg.url}/no/such/endpoint`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: string }).error, 'not_found');

    const token = await tg.adminToken();
    const post = (body: string, type: string) =>
      fetch(`${tg.url}/admin/apis`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': type },
        body,
      });
    const plain = await post('hello', 'text/plain');
    assert.equal(plain.status, 415);
    assert.equal(((await plain.json()) as { error: string }).error, 'unsupported_media_type');
    const huge = await post(JSON.stringify({ audience: 'x'.repeat(200_000) }), 'application/json');
    assert.equal(huge.status, 413);
    assert.equal(((await huge.json()) as { error: string }).error, 'request_too_large');
    const array = await post('[1,2]', 'application/json');
    assert.equal(array.status, 400);
    assert.match(((await array.json()) as { error_description: string }).error_description, /request body/);
  });
});
