import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

const machine = (tg: TestInstance, allowed: string[]) =>
  createClient(tg, {
    name: 'm2m',
    grant_types: ['client_credentials'],
    scope: 'decide',
    api: 'urn:tollgate',
    allowed_ips: allowed,
  });

describe('per-client address allow-lists', () => {
  let tg: TestInstance;
  before(async () => {
    tg = await startTestInstance();
  });
  after(() => tg.close());

  it('gives a client tokens only from its allowed ranges, and ignores X-Forwarded-For without trusted proxies', async () => {
    const local = await machine(tg, ['127.0.0.0/8', '::1']);
    assert.equal((await requestToken(tg.url, local, { scope: 'decide' })).status, 200);
    const remote = await machine(tg, ['10.0.0.0/8']);
    const refused = await requestToken(tg.url, remote, { scope: 'decide' });
    assert.equal(refused.status, 401);
    assert.equal(((await refused.json()) as { error: string }).error, 'invalid_client');
    const spoofed = await fetch(`${tg.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${remote.client_id}:${remote.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': '10.1.2.3',
      },
      body: 'grant_type=client_credentials&scope=decide',
    });
    assert.equal(spoofed.status, 401, 'a header from an untrusted peer changes nothing');
  });

  it('refuses an allow-list entry that is not an address or range, naming the field', async () => {
    const response = await tg.admin$('POST', '/clients', {
      name: 'bad',
      grant_types: ['client_credentials'],
      allowed_ips: ['10.0.0.0/33'],
    });
    assert.equal(response.status, 400);
    assert.match(
      ((await response.json()) as { error_description: string }).error_description,
      /allowed_ips\.0/,
    );
  });
});

describe('X-Forwarded-For from a trusted proxy', () => {
  let tg: TestInstance;
  before(async () => {
    tg = await startTestInstance({ TRUSTED_PROXIES: '127.0.0.1,::1' });
  });
  after(() => tg.close());

  it('uses the forwarded address for the allow-list', async () => {
    const remote = await machine(tg, ['10.0.0.0/8']);
    const forwarded = (xff: string) =>
      fetch(`${tg.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${remote.client_id}:${remote.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': xff,
        },
        body: 'grant_type=client_credentials&scope=decide',
      });
    assert.equal((await forwarded('10.1.2.3')).status, 200);
    assert.equal((await forwarded('192.0.2.1')).status, 401);
    // Only the hop the trusted proxy appended counts; what the client itself put first does not.
    assert.equal((await forwarded('10.9.9.9, 192.0.2.1')).status, 401);
  });
});
