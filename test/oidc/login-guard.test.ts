import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { attemptLogin } from '../helpers/browser.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const REDIRECT = 'https://app.example.test/cb';

describe('brute-force protection of the login form', () => {
  let tg: TestInstance;
  let clientId: string;

  before(async () => {
    tg = await startTestInstance({
      LOGIN_MAX_FAILURES: '3',
      LOGIN_LOCKOUT_SECONDS: '1',
      LOGIN_MAX_FAILURES_PER_IP: '12',
    });
    for (const username of ['dave', 'erin', 'frank', 'grace', 'heidi']) {
      await createUser(tg, { username, password: `${username} password` });
    }
    clientId = (
      await createClient(tg, { name: 'web', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] })
    ).client_id;
  });
  after(() => tg.close());

  const attempt = (username: string, password: string) => attemptLogin(tg, clientId, username, password);

  it('locks a username out after consecutive failures, refuses even the right password meanwhile, and lets it in afterwards', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await attempt('dave', 'wrong')).status, 401);
    const third = await attempt('dave', 'wrong');
    assert.equal(third.status, 429);
    assert.equal(third.headers.get('retry-after'), '1');
    assert.match(await third.text(), /Too many failed sign-ins/);
    const right = await attempt('dave', 'dave password');
    assert.equal(right.status, 429, 'the right password does not help during a lockout');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await attempt('dave', 'dave password')).status, 303);
  });

  it('doubles the lockout each time it is earned again', async () => {
    for (let i = 0; i < 3; i++) await attempt('erin', 'wrong');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    for (let i = 0; i < 2; i++) assert.equal((await attempt('erin', 'wrong')).status, 401);
    const second = await attempt('erin', 'wrong');
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('retry-after'), '2');
    assert.ok(tg.logs.some((line) => line.includes('login locked out') && line.includes('erin')));
  });

  it('refuses an address that fails too often across usernames', async () => {
    // 9 failures so far from this address (dave 3, erin 6); 6 more, 2 per user (under the
    // per-user limit), pass the ceiling of 12 a day.
    for (const username of ['frank', 'grace', 'heidi']) {
      for (let i = 0; i < 2; i++) await attempt(username, 'wrong');
    }
    const refused = await attempt('frank', 'frank password');
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) > 3600);
  });
});

async function webClient(tg: TestInstance): Promise<string> {
  return (
    await createClient(tg, { name: 'web', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] })
  ).client_id;
}

// Set by .ci/run, so CI never skips this; a machine without Redis skips it with this reason.
const REDIS_URL = process.env.TOLLGATE_TEST_REDIS_URL;

describe('lockouts shared through Redis', {
  skip: skipUnless('redis'),
}, () => {
  let a: TestInstance;
  let b: TestInstance;
  const username = `ivan-${randomBytes(4).toString('hex')}`;

  before(async () => {
    const env = { REDIS_URL: REDIS_URL ?? '', LOGIN_MAX_FAILURES: '2', LOGIN_LOCKOUT_SECONDS: '30' };
    a = await startTestInstance(env);
    b = await startTestInstance(env);
    for (const tg of [a, b]) await createUser(tg, { username, password: 'ivan password' });
  });
  after(async () => {
    await a?.close();
    await b?.close();
  });

  it('refuses at instance B a username locked out by failures at instance A', async () => {
    const [atA, atB] = [await webClient(a), await webClient(b)];
    assert.equal((await attemptLogin(a, atA, username, 'wrong')).status, 401);
    assert.equal((await attemptLogin(a, atA, username, 'wrong')).status, 429);
    const elsewhere = await attemptLogin(b, atB, username, 'ivan password');
    assert.equal(elsewhere.status, 429);
    assert.ok(Number(elsewhere.headers.get('retry-after')) > 20);
  });
});
