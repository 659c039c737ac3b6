import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
});
