import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import {
  createDecider,
  type DeciderOptions,
  planToKysely,
  TollgateUnavailableError,
} from '../../src/client/index.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';
import { countingFetch, createDecideClient, startStandIn } from './fixture.ts';

const accountant = { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } };
const read = (tenant: string) => ({
  subject: accountant,
  action: 'read',
  resource: { type: 'Invoice', id: 'inv_1', attrs: { tenant } },
});

describe('the decider when Tollgate is slow, down or failing, its cache and its plans', () => {
  let tg: TestInstance;
  let credentials: { clientId: string; clientSecret: string };
  const options = (more: Partial<DeciderOptions>): DeciderOptions => ({
    issuer: tg.issuer,
    ...credentials,
    ...more,
  });

  before(async () => {
    tg = await startTestInstance();
    assert.equal((await tg.admin$('POST', '/policies', { files: policyFiles() })).status, 201);
    credentials = await createDecideClient(tg);
  });
  after(() => tg.close());

  it('denies when Tollgate is unreachable, or throws when told to', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const closed = createDecider(options({ issuer: nowhere }));
    assert.deepEqual(await closed.check(read('acme')), {
      allow: false,
      reason: 'tollgate_unavailable',
      detail: 'unreachable',
      rule: null,
      policy: null,
    });
    const loud = createDecider(options({ issuer: nowhere, onUnavailable: 'throw' }));
    await assert.rejects(
      loud.check(read('acme')),
      (error: TollgateUnavailableError) =>
        error instanceof TollgateUnavailableError && error.code === 'unreachable',
    );
  });

  it('gives up on a request that outlives its timeout', async () => {
    const standIn = await startStandIn(tg, { decide: 'hang' });
    try {
      const started = Date.now();
      const answer = await createDecider(options({ issuer: standIn.issuer, timeoutMs: 300 })).check(
        read('acme'),
      );
      assert.deepEqual(
        [answer.allow, answer.reason, answer.detail],
        [false, 'tollgate_unavailable', 'timeout'],
      );
      assert.ok(Date.now() - started < 3000, 'well before any default of the platform');
      await assert.rejects(
        createDecider(options({ issuer: standIn.issuer, timeoutMs: 300, onUnavailable: 'throw' })).check(
          read('acme'),
        ),
        (error: TollgateUnavailableError) => error.code === 'timeout',
      );
    } finally {
      await standIn.close();
    }
  });

  it('denies on a 5xx instead of reading it as an answer', async () => {
    const standIn = await startStandIn(tg, { decide: 503 });
    try {
      const answer = await createDecider(options({ issuer: standIn.issuer })).check(read('acme'));
      assert.deepEqual([answer.allow, answer.detail], [false, 'server_error']);
    } finally {
      await standIn.close();
    }
  });

  it('denies while this caller is over its rate limit at Tollgate (429), as when Tollgate is down', async () => {
    const strict = await startTestInstance({ DECIDE_RATE_LIMIT: '2' });
    try {
      assert.equal((await strict.admin$('POST', '/policies', { files: policyFiles() })).status, 201);
      const d = createDecider({ issuer: strict.issuer, ...(await createDecideClient(strict)) });
      const answers = [];
      for (const tenant of ['acme', 'acme', 'acme', 'acme']) answers.push(await d.check(read(tenant)));
      assert.equal(answers[0]?.allow, true);
      const last = answers.at(-1);
      assert.deepEqual(
        [last?.allow, last?.reason, last?.detail],
        [false, 'tollgate_unavailable', 'rate_limited'],
      );
    } finally {
      await strict.close();
    }
  });

  it('refuses a discovery document that names another issuer', async () => {
    const standIn = await startStandIn(tg, { decide: 503 });
    try {
      // The stand-in names its own issuer whatever path it is asked at.
      const counter = countingFetch();
      const d = createDecider(options({ issuer: `${standIn.issuer}/other`, fetch: counter.fetch }));
      const answer = await d.check(read('acme'));
      assert.deepEqual([answer.allow, answer.reason], [false, 'tollgate_unavailable']);
      assert.equal(counter.count('/other/.well-known/openid-configuration'), 1);
      assert.equal(counter.count('/token'), 0, 'the secret never goes to a token endpoint it names');
    } finally {
      await standIn.close();
    }
  });

  it('caches nothing unless asked to', async () => {
    const counter = countingFetch();
    const d = createDecider(options({ fetch: counter.fetch }));
    await d.check(read('acme'));
    await d.check(read('acme'));
    assert.equal(counter.count('/decide'), 2);
  });

  it('serves the same question from its cache until the entry expires', async () => {
    const counter = countingFetch();
    const clock = { offset: 0 };
    const d = createDecider(
      options({ fetch: counter.fetch, cache: { ttlMs: 5000 }, now: () => Date.now() + clock.offset }),
    );
    const first = await d.check(read('acme'));
    assert.deepEqual(await d.check(read('acme')), first);
    // Same content, keys in another order: the same question.
    await d.check({
      resource: { attrs: { tenant: 'acme' }, id: 'inv_1', type: 'Invoice' },
      action: 'read',
      subject: accountant,
    });
    assert.equal(counter.count('/decide'), 1);
    // Anything that can change the answer is another question.
    await d.check(read('globex'));
    await d.check({ ...read('acme'), action: 'update' });
    await d.check({ ...read('acme'), subject: { ...accountant, roles: ['customer'] } });
    await d.check({ ...read('acme'), context: { ip: '10.0.0.7' } });
    await d.check({ ...read('acme'), field: 'amount' });
    assert.equal(counter.count('/decide'), 6);
    clock.offset = 5001;
    await d.check(read('acme'));
    assert.equal(counter.count('/decide'), 7, 'expired');
  });

  it('never caches a fail-closed denial', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const counter = countingFetch();
    const d = createDecider(options({ issuer: nowhere, fetch: counter.fetch, cache: { ttlMs: 5000 } }));
    await d.check(read('acme'));
    await d.check(read('acme'));
    assert.equal(counter.count('/.well-known/openid-configuration'), 2);
  });

  it('plans a list query, and plans nothing when Tollgate is down', async () => {
    const d = createDecider(options({}));
    const answer = await d.plan({ subject: accountant, action: 'read', resource: { type: 'Invoice' } });
    assert.equal(answer.plan.kind, 'conditional');
    const db = new Kysely<{ invoices: { id: string; tenant: string | null } }>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (k) => new PostgresIntrospector(k),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
    });
    const query = db
      .selectFrom('invoices')
      .select('id')
      .where(planToKysely(answer.plan, { tenant: 'tenant' }))
      .compile();
    assert.match(query.sql, /"tenant" is not distinct from \$1/);
    assert.deepEqual(query.parameters, ['acme']);

    const down = createDecider(options({ issuer: `http://127.0.0.1:${await freePort()}` }));
    const nothing = await down.plan({ subject: accountant, action: 'read', resource: { type: 'Invoice' } });
    assert.deepEqual(nothing, {
      plan: { kind: 'never' },
      policy: null,
      reason: 'tollgate_unavailable',
      detail: 'unreachable',
    });
  });
});
