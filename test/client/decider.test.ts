import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createDecider,
  type DeciderOptions,
  type Decision,
  TollgateRequestError,
} from '../../src/client/index.ts';
import { createClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';
import { countingFetch, createDecideClient } from './fixture.ts';

const accountant = { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } };
const invoice = (tenant: string, status = 'open') => ({
  type: 'Invoice',
  id: 'inv_1',
  attrs: { tenant, status },
});

describe('createDecider against a real Tollgate', () => {
  let tg: TestInstance;
  let credentials: { clientId: string; clientSecret: string };

  /** A decider with a counting fetch and a clock the test moves. */
  function decider(options: Partial<DeciderOptions> = {}) {
    const counter = countingFetch();
    const clock = { offset: 0 };
    const subject = createDecider({
      issuer: tg.issuer,
      ...credentials,
      fetch: counter.fetch,
      now: () => Date.now() + clock.offset,
      ...options,
    });
    return { decider: subject, ...counter, clock };
  }

  before(async () => {
    tg = await startTestInstance();
    assert.equal((await tg.admin$('POST', '/policies', { files: policyFiles() })).status, 201);
    credentials = await createDecideClient(tg);
  });
  after(() => tg.close());

  it('answers as POST /decide does: allow with the rule, deny with the reason', async () => {
    const { decider: d } = decider();
    const allowed = (await d.check({
      subject: accountant,
      action: 'read',
      resource: invoice('acme'),
    })) as Decision;
    assert.equal(allowed.allow, true);
    assert.equal(allowed.rule, 'read-own-tenant');
    assert.equal(allowed.policy.resource, 'Invoice');
    const paid = await d.check({ subject: accountant, action: 'update', resource: invoice('acme', 'paid') });
    assert.deepEqual(
      [paid.allow, paid.reason, paid.rule],
      [false, 'paid invoices are immutable', 'paid-immutable'],
    );
    const forged = await d.check({
      subject: { token: 'not-a-token' },
      action: 'read',
      resource: invoice('acme'),
    });
    assert.deepEqual(
      [forged.allow, forged.reason, forged.detail],
      [false, 'subject_token_invalid', 'malformed'],
    );
  });

  it('fetches its caller token once, by discovery, however many checks share it', async () => {
    const { decider: d, count, requests } = decider();
    await Promise.all(
      ['acme', 'globex', 'initech'].map((tenant) =>
        d.check({ subject: { ...accountant, attrs: { tenant } }, action: 'read', resource: invoice('acme') }),
      ),
    );
    await d.check({ subject: accountant, action: 'read', resource: invoice('acme') });
    assert.equal(count('/.well-known/openid-configuration'), 1);
    assert.equal(count('/token'), 1, 'concurrent callers share one token request');
    assert.equal(
      requests.find((r) => r.path === '/token')?.body,
      'grant_type=client_credentials&scope=decide',
    );
    assert.equal(count('/decide'), 4);
  });

  it('renews its caller token before it expires, not after', async () => {
    const { decider: d, count, clock } = decider({ renewBeforeMs: 30_000 });
    const ask = () => d.check({ subject: accountant, action: 'read', resource: invoice('acme') });
    await ask();
    // Tollgate's own API issues caller tokens for 5 minutes by default.
    clock.offset = 270_000 - 1_000;
    await ask();
    assert.equal(count('/token'), 1, 'still well within its lifetime');
    clock.offset = 270_000 + 1_000;
    assert.equal((await ask()).allow, true);
    assert.equal(count('/token'), 2, 'renewed 30 s before expiry');
  });

  it('asks again with a new caller token when Tollgate refuses the one it holds', async () => {
    const counter = countingFetch();
    let tamper = true;
    const d = createDecider({
      issuer: tg.issuer,
      ...credentials,
      fetch: (url, init) => {
        if (tamper && url.endsWith('/decide')) {
          tamper = false;
          return counter.fetch(url, {
            ...init,
            headers: { ...init.headers, authorization: 'Bearer revoked' },
          });
        }
        return counter.fetch(url, init);
      },
    });
    assert.equal(
      (await d.check({ subject: accountant, action: 'read', resource: invoice('acme') })).allow,
      true,
    );
    assert.deepEqual([counter.count('/token'), counter.count('/decide')], [2, 2]);
  });

  it('sends the checks of one turn of the event loop as one batch per subject, in order', async () => {
    const { decider: d, count, requests } = decider();
    const tenants = ['acme', 'globex', 'acme', 'initech', 'acme'];
    const answers = await Promise.all(
      tenants.map((tenant) => d.check({ subject: accountant, action: 'read', resource: invoice(tenant) })),
    );
    assert.deepEqual(
      answers.map((a) => a.allow),
      [true, false, true, false, true],
    );
    assert.equal(count('/decide'), 1);
    const body = requests.find((r) => r.path === '/decide')?.body as { checks: unknown[] };
    assert.equal(body.checks.length, 3, 'the same question is asked once');
  });

  it('sends each question as it was asked, even if the caller changes its objects before the batch leaves', async () => {
    const { decider: d } = decider();
    const resource = invoice('acme');
    const first = d.check({ subject: accountant, action: 'read', resource });
    resource.attrs.tenant = 'globex';
    const second = d.check({ subject: accountant, action: 'read', resource });
    assert.deepEqual([(await first).allow, (await second).allow], [true, false]);
  });

  it('keeps subjects and contexts apart: one batch each', async () => {
    const { decider: d, count } = decider();
    const bob = { id: 'u2', roles: ['accountant'], attrs: { tenant: 'globex' } };
    const [a, b, c] = await Promise.all([
      d.check({ subject: accountant, action: 'read', resource: invoice('acme') }),
      d.check({ subject: bob, action: 'read', resource: invoice('acme') }),
      d.check({
        subject: accountant,
        action: 'read',
        resource: invoice('acme'),
        context: { ip: '10.0.0.7' },
      }),
    ]);
    assert.deepEqual([a.allow, b.allow, c.allow], [true, false, true]);
    assert.equal(count('/decide'), 3);
  });

  it('joins checks asked after an await in the same turn', async () => {
    const { decider: d, count } = decider();
    await d.check({ subject: accountant, action: 'read', resource: invoice('acme') }); // token in hand
    const before = count('/decide');
    await Promise.all(
      [1, 2, 3].map(async (n) => {
        await Promise.resolve();
        return d.check({
          subject: accountant,
          action: 'read',
          resource: { ...invoice('acme'), id: `inv_${n}` },
        });
      }),
    );
    assert.equal(count('/decide') - before, 1);
  });

  it('answers checkMany in order, 100 checks a request', async () => {
    const { decider: d, count } = decider();
    const checks = Array.from({ length: 150 }, (_, n) => ({
      action: 'read',
      resource: { type: 'Invoice', id: `inv_${n}`, attrs: { tenant: n % 3 === 0 ? 'acme' : 'globex' } },
    }));
    const answers = await d.checkMany({ subject: accountant, checks });
    assert.equal(answers.length, 150);
    assert.ok(answers.every((answer, n) => answer.allow === (n % 3 === 0)));
    assert.equal(count('/decide'), 2);
  });

  it("fails only the bad check of a batch, not the others' it was sent with", async () => {
    const { decider: d } = decider();
    const [good, bad, other] = await Promise.allSettled([
      d.check({ subject: accountant, action: 'read', resource: invoice('acme') }),
      d.check({ subject: accountant, action: 'read', resource: { type: 'Payslip', id: 'p1' } }),
      d.check({ subject: accountant, action: 'read', resource: invoice('globex') }),
    ]);
    assert.equal(good.status === 'fulfilled' && good.value.allow, true);
    assert.equal(other.status === 'fulfilled' && other.value.allow, false);
    assert.equal(bad.status, 'rejected');
    const error = (bad as PromiseRejectedResult).reason as TollgateRequestError;
    assert.ok(error instanceof TollgateRequestError);
    assert.deepEqual([error.httpStatus, error.error], [400, 'invalid_request']);
    assert.match(error.error_description, /^resource\.type: /);
  });

  it('names the failing check of a checkMany as Tollgate names batch fields', async () => {
    const { decider: d } = decider();
    await assert.rejects(
      d.checkMany({
        subject: accountant,
        checks: [
          { action: 'read', resource: invoice('acme') },
          { action: '', resource: invoice('acme') },
        ],
      }),
      (error: TollgateRequestError) =>
        error instanceof TollgateRequestError && error.error_description.startsWith('checks.1.action: '),
    );
  });

  it('throws what Tollgate refuses, in OAuth shape: wrong secret, no decide scope', async () => {
    const wrong = decider({ clientSecret: 'not the secret' }).decider;
    await assert.rejects(
      wrong.check({ subject: accountant, action: 'read', resource: invoice('acme') }),
      (error: TollgateRequestError) =>
        error instanceof TollgateRequestError && error.error === 'invalid_client',
    );
    const metricsOnly = await createClient(tg, {
      name: 'metrics-only',
      grant_types: ['client_credentials'],
      scope: 'metrics',
      api: 'urn:tollgate',
    });
    const refused = createDecider({
      issuer: tg.issuer,
      clientId: metricsOnly.client_id,
      clientSecret: metricsOnly.client_secret ?? '',
    });
    await assert.rejects(
      refused.check({ subject: accountant, action: 'read', resource: invoice('acme') }),
      (error: TollgateRequestError) =>
        error instanceof TollgateRequestError && error.httpStatus === 400 && error.error === 'invalid_scope',
    );
  });

  it('refuses bad options when created, naming each', () => {
    assert.throws(
      () => createDecider({ issuer: 'ftp://x', clientId: '', clientSecret: 's', timeoutMs: -1 }),
      (error: Error) =>
        error instanceof TypeError &&
        /issuer: /.test(error.message) &&
        /clientId: /.test(error.message) &&
        /timeoutMs: /.test(error.message),
    );
  });

  it('fails only the call whose values JSON cannot carry', async () => {
    const { decider: d } = decider();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const [bad, good] = await Promise.allSettled([
      d.check({ subject: accountant, action: 'read', resource: { type: 'Invoice', attrs: cyclic } }),
      d.check({ subject: accountant, action: 'read', resource: invoice('acme') }),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.equal(good.status === 'fulfilled' && good.value.allow, true);
  });
});
