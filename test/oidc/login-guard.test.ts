import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { attemptLogin } from '../helpers/browser.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { createClient, createUser } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

const REDIRECT = 'https://app.example.test/cb';
/** The first lockout: long enough that the checks made during it finish in it on a loaded machine. */
const LOCKOUT_SECONDS = 2;

describe('brute-force protection of the login form', () => {
  let tg: TestInstance;
  let clientId: string;

  before(async () => {
    tg = await startTestInstance({
      LOGIN_MAX_FAILURES: '3',
      LOGIN_LOCKOUT_SECONDS: String(LOCKOUT_SECONDS),
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

  /** The failure that locks `username` out, timed: the lockout starts between `sent` and `answered`. */
  async function lockOut(username: string, expectedSeconds: number) {
    const sent = Date.now();
    const locking = await attempt(username, 'wrong');
    const answered = Date.now();
    assert.equal(locking.status, 429);
    assert.equal(locking.headers.get('retry-after'), String(expectedSeconds));
    return { sent, answered, seconds: expectedSeconds, body: await locking.text() };
  }

  /**
   * Tries the right password until it is let in (deadline: the lockout plus 15 s), and checks
   * the lockout's length by the clock on both sides: no sign-in answered before the lockout could
   * have ended, no refusal for an attempt sent after it must have ended. Refused attempts cost
   * nothing (the lockout is checked before the password), so polling leaves the counts alone.
   */
  async function waitOutLockout(
    username: string,
    lockout: { sent: number; answered: number; seconds: number },
  ): Promise<{ refused: number }> {
    const earliestEnd = lockout.sent + lockout.seconds * 1000;
    // +1 s: the in-memory limiter drops an expired lockout on a timer, which a busy event loop runs late.
    const latestEnd = lockout.answered + lockout.seconds * 1000 + 1000;
    let refused = 0;
    for (;;) {
      const sent = Date.now();
      const status = (await attempt(username, `${username} password`)).status;
      const answered = Date.now();
      if (status === 303) {
        assert.ok(answered >= earliestEnd, `let in ${earliestEnd - answered} ms before the lockout ended`);
        return { refused };
      }
      assert.equal(status, 429, 'refused only by the lockout');
      assert.ok(sent <= latestEnd, `still locked out ${sent - latestEnd} ms after the lockout ended`);
      refused += 1;
      assert.ok(Date.now() < latestEnd + 15_000, 'the lockout never ended');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('locks a username out after consecutive failures, refuses even the right password meanwhile, and lets it in afterwards', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await attempt('dave', 'wrong')).status, 401);
    const lockout = await lockOut('dave', LOCKOUT_SECONDS);
    assert.match(lockout.body, /Too many failed sign-ins/);
    const { refused } = await waitOutLockout('dave', lockout);
    assert.ok(refused > 0, 'the right password does not help during a lockout');
  });

  it('doubles the lockout each time it is earned again', async () => {
    for (let i = 0; i < 2; i++) await attempt('erin', 'wrong');
    await waitOutLockout('erin', await lockOut('erin', LOCKOUT_SECONDS));
    for (let i = 0; i < 2; i++) assert.equal((await attempt('erin', 'wrong')).status, 401);
    const second = await lockOut('erin', 2 * LOCKOUT_SECONDS);
    assert.ok((await waitOutLockout('erin', second)).refused > 0);
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

// Set and required by .ci/run (TOLLGATE_TEST_REQUIRE), so CI never skips this; elsewhere it skips without Redis.
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
