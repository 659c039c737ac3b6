import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
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

  it('refuses JSON nested too deep or with reserved keys on every JSON endpoint, naming the path', async () => {
    let attrs: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < 10; i++) attrs = { nested: attrs };
    const deep = await tg.admin$('POST', '/users', { username: 'deep', password: 'deep password', attrs });
    assert.equal(deep.status, 400);
    assert.match(
      ((await deep.json()) as { error_description: string }).error_description,
      /^body\.attrs\.nested(\.nested)*: nested deeper than 8 levels$/,
    );
    const token = await tg.adminToken();
    const reserved = await fetch(`${tg.url}/admin/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"username":"eve","password":"eve password","attrs":{"__proto__":{"admin":true}}}',
    });
    // The JSON parser itself refuses "__proto__" (co-body, protoAction "error") before our shape check.
    assert.equal(reserved.status, 400);
    assert.equal(((await reserved.json()) as { error: string }).error, 'invalid_request');
  });

  it('answers headers over 16 KiB with 431 and malformed HTTP with 400, both in OAuth shape', async () => {
    const { port } = new URL(tg.url);
    const exchange = (raw: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.end(raw));
        let answer = '';
        socket.on('data', (chunk) => (answer += chunk));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
      });
    const big = await exchange(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    assert.match(
      big,
      /"error":"invalid_request","error_description":"request line and headers exceed 16384 bytes"/,
    );
    const longUrl = await exchange(`GET /healthz?${'q'.repeat(17_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(longUrl, /^HTTP\/1\.1 431 /);
    const garbage = await exchange('NOT HTTP AT ALL\r\n\r\n');
    assert.match(garbage, /^HTTP\/1\.1 400 /);
    assert.match(garbage, /"error":"invalid_request"/);
    const fine = await fetch(`${tg.url}/healthz`, { headers: { 'x-medium': 'a'.repeat(8_000) } });
    assert.equal(fine.status, 200);
  });

  it('serves its OpenAPI contract, covering decisions, forward-auth, gateways and the audit log', async () => {
    const response = await fetch(`${tg.url}/openapi.yaml`);
    assert.equal(response.status, 200);
    const { paths } = parse(await response.text()) as { paths: Record<string, unknown> };
    for (const path of [
      '/decide',
      '/decide/plan',
      '/decide/forward/nginx',
      '/decide/forward/traefik',
      '/admin/gateways',
      '/admin/audit',
      '/admin/audit/verify',
      '/admin/audit/checkpoints',
      '/admin/policies',
    ])
      assert.ok(path in paths, path);
  });
});
