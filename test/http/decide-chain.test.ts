import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decideChains } from '../../src/http/decide-chain.ts';
import { createMachineClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';
import { requestToken } from '../helpers/tokens.ts';

const CHECK = {
  subject: { id: 'u-1', roles: ['accountant'], attrs: { tenant: 'acme' } },
  action: 'update',
  resource: { type: 'Invoice', id: 'inv-1', attrs: { tenant: 'acme', status: 'paid' } },
};

describe('one /decide pipeline for every spelling', () => {
  let tg: TestInstance;
  let token: string;

  before(async () => {
    tg = await startTestInstance();
    assert.equal((await tg.admin$('POST', '/policies', { files: policyFiles() })).status, 201);
    const { created } = await createMachineClient(tg, { name: 'svc', scope: 'decide', api: 'urn:tollgate' });
    token = (
      (await (await requestToken(tg.url, created, { scope: 'decide' })).json()) as { access_token: string }
    ).access_token;
  });
  after(() => tg.close());

  async function post(path: string, init: { token?: string; type?: string; body?: string } = {}) {
    const response = await fetch(`${tg.url}${path}`, {
      method: 'POST',
      headers: {
        ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
        'content-type': init.type ?? 'application/json',
      },
      body: init.body ?? JSON.stringify(CHECK),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
      headers: response.headers,
    };
  }

  it('defines /decide and /decide/plan as named steps in order (app.ts hands these lists to both stacks)', () => {
    const chains = decideChains({} as never);
    assert.deepEqual(
      chains.check.map((step) => step.name),
      ['authenticateCaller', 'limitCaller', 'requireJson', 'readJsonBody', 'check'],
    );
    assert.deepEqual(
      chains.plan.map((step) => step.name),
      ['authenticateCaller', 'limitCaller', 'requireJson', 'readJsonBody', 'plan'],
    );
  });

  it('answers /decide with or without a query string identically, refusals included', async () => {
    for (const [init, status] of [
      [{ token }, 200],
      [{}, 401],
      [{ token, type: 'text/plain' }, 415],
      [{ token, body: '{not json' }, 400],
      [{ token, body: JSON.stringify({ ...CHECK, resource: { type: 'Payslip', id: 'p' } }) }, 400],
    ] as const) {
      const plain = await post('/decide', init);
      const queried = await post('/decide?x=1&debug=true', init);
      assert.equal(plain.status, status, JSON.stringify(plain.body));
      assert.deepEqual(queried.body, plain.body);
      assert.equal(queried.status, plain.status);
      for (const header of ['x-content-type-options', 'content-security-policy', 'www-authenticate'])
        assert.equal(queried.headers.get(header), plain.headers.get(header), header);
    }
    const decided = await post('/decide', { token });
    assert.equal(decided.body?.reason, 'paid invoices are immutable');
  });

  it('answers /decide/plan through the same steps, with or without a query string', async () => {
    const body = JSON.stringify({ subject: CHECK.subject, action: 'read', resource: { type: 'Invoice' } });
    const plain = await post('/decide/plan', { token, body });
    const queried = await post('/decide/plan?x=1', { token, body });
    assert.equal(plain.status, 200);
    assert.deepEqual(queried.body, plain.body);
    assert.equal((await post('/decide/plan?x=1', { body })).status, 401);
    assert.equal(
      (await post('/decide/plan', { token, body, type: 'application/x-www-form-urlencoded' })).status,
      415,
    );
  });

  it('refuses every other spelling, and other methods', async () => {
    for (const path of [
      '/decide/',
      '/Decide',
      '/DECIDE',
      '/decide//',
      '/%64ecide',
      '/decide/plan/',
      '/decide/Plan',
    ])
      assert.equal((await post(path, { token })).status, 404, path);
    // Other methods are no endpoint, as everywhere else here: 404 in OAuth's shape.
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await fetch(`${tg.url}/decide`, {
        method,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(response.status, 404, method);
      assert.equal(((await response.json()) as { error: string }).error, 'not_found');
    }
  });
  /** POST /decide with node:http, the body written in `pieces` with a pause between them. */
  function postInPieces(pieces: string[], headers: Record<string, string>) {
    return new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const url = new URL('/decide', tg.url);
      const req = request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      });
      req.on('error', reject);
      req.on('response', (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
      });
      void (async () => {
        for (const [i, piece] of pieces.entries()) {
          if (i > 0) await sleep(50);
          req.write(piece);
        }
        req.end();
      })();
    });
  }

  it('reads a body that comes after the headers, in pieces or chunked, as one sent at once, and refuses a chunked one past the limit', async () => {
    const body = JSON.stringify(CHECK);
    const half = Math.floor(body.length / 2);
    const whole = await post('/decide', { token });
    const withLength = await postInPieces([body.slice(0, half), body.slice(half)], {
      'content-length': String(Buffer.byteLength(body)),
    });
    assert.equal(withLength.status, 200);
    assert.deepEqual(withLength.body, whole.body);
    // No Content-Length: node:http sends it chunked.
    const chunked = await postInPieces([body.slice(0, half), body.slice(half)], {});
    assert.equal(chunked.status, 200);
    assert.deepEqual(chunked.body, whole.body);
    // A chunked body past the limit is refused however it arrives.
    const huge = `{"pad":"${'x'.repeat(130 * 1024)}"}`;
    const refused = await postInPieces([huge.slice(0, 1000), huge.slice(1000)], {});
    assert.equal(refused.status, 413);
    assert.equal(refused.body.error, 'request_too_large');
  });

  it('answers two requests sent in one write on one connection, each with its own body', async () => {
    const ask = (action: string) => {
      const body = JSON.stringify({ ...CHECK, action });
      return (
        'POST /decide HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      );
    };
    const { port } = new URL(tg.url);
    const socket = connect(Number(port), '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.write(ask('update') + ask('read'));
    const deadline = Date.now() + 10_000;
    while ((text.match(/"allow":/g) ?? []).length < 2 && Date.now() < deadline) await sleep(10);
    socket.destroy();
    assert.equal((text.match(/HTTP\/1\.1 200 OK/g) ?? []).length, 2, text);
    // Each answer is its own request's, in order: neither body was lost, shared or swapped.
    const answers = [...text.matchAll(/"allow":(true|false)/g)].map((m) => m[1]);
    assert.deepEqual(answers, ['false', 'true'], text);
    assert.match(text, /paid invoices are immutable/);
  });
});
