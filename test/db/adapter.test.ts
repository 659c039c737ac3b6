import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it, mock } from 'node:test';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import * as payloadDigests from '../../migrations/0006_payload_digests.ts';
import { migrations } from '../../migrations/index.ts';
import {
  type ClientRow,
  type DatabaseHandle,
  migrateToLatest,
  openDatabase,
  revokedTokenQueries,
} from '../../src/db/index.ts';
import { createAdapterFactory } from '../../src/oidc/adapter.ts';
import { purgeExpired } from '../../src/oidc/index.ts';
import {
  createPostgresDatabase,
  openTestDatabase,
  TEST_DATABASE_URL,
  type TestDatabase,
} from '../helpers/database.ts';

const KNOWN_CLIENT: ClientRow = {
  client_id: 'svc-known',
  name: 'Known service',
  secret_digest: 'digest-of-the-secret',
  metadata: { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' },
  roles: ['billing'],
  created_at: new Date(),
};

/** Client lookups come from the client directory (a stub here); every other kind from the database. */
function adapters(handle: DatabaseHandle): (kind: string) => Adapter {
  const directory = {
    find: async (id: string) => (id === KNOWN_CLIENT.client_id ? KNOWN_CLIENT : undefined),
  };
  const KyselyAdapter = createAdapterFactory(handle, directory);
  return (kind) => new KyselyAdapter(kind);
}

/** What a lookup by uid or user code returns: it cannot know the raw id, which is not stored. */
const withoutJti = ({ jti: _jti, ...rest }: Record<string, unknown>) => rest;

const unique = (prefix: string) => `${prefix}-${randomBytes(6).toString('hex')}`;

async function countRows(handle: DatabaseHandle, table: 'oidc_payloads' | 'revoked_tokens'): Promise<number> {
  const row = await handle.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('oidc-provider adapter on the database', () => {
  let database: TestDatabase;
  let adapter: (kind: string) => Adapter;
  before(async () => {
    database = await openTestDatabase();
    adapter = adapters(database.handle);
  });
  after(() => database.drop());

  it('returns exactly the payload it stored, JSON types and nesting included', async () => {
    const id = unique('at');
    const payload: AdapterPayload = {
      jti: id,
      kind: 'AccessToken',
      accountId: 'usr_1',
      clientId: 'svc',
      grantId: unique('grant'),
      scope: 'openid read',
      iat: 1_700_000_000,
      extra: { roles: ['a', 'b'], nested: { n: 1.5, flag: false, nothing: null }, text: 'naïve ✓ "quoted"' },
    };
    await adapter('AccessToken').upsert(id, payload, 300);
    assert.deepEqual(await adapter('AccessToken').find(id), payload);
    assert.equal(await adapter('RefreshToken').find(id), undefined, 'ids are scoped by kind');
    assert.equal(await adapter('AccessToken').find(unique('missing')), undefined);
  });

  it('replaces a payload when the same id is upserted again', async () => {
    const id = unique('session');
    await adapter('Session').upsert(id, { jti: id, uid: unique('uid'), accountId: 'usr_1' }, 600);
    const second = { jti: id, uid: unique('uid'), accountId: 'usr_2' };
    await adapter('Session').upsert(id, second, 600);
    assert.deepEqual(await adapter('Session').find(id), second);
    // The raw session id is stored nowhere (issue 9 §5), so a lookup by uid returns no jti.
    assert.deepEqual(
      await adapter('Session').findByUid(second.uid),
      withoutJti(second),
      'the uid index follows the update',
    );
  });

  it('stops finding a row once its expiry passes, by id, uid and user code alike', async (t) => {
    const start = Date.now();
    t.after(() => mock.timers.reset());
    mock.timers.enable({ apis: ['Date'], now: start });
    const id = unique('device');
    const payload = { jti: id, uid: unique('uid'), userCode: unique('CODE'), kind: 'DeviceCode' };
    await adapter('DeviceCode').upsert(id, payload, 60);
    const forever = unique('grant');
    await adapter('Grant').upsert(forever, { jti: forever, accountId: 'usr_1' }, 0);

    mock.timers.setTime(start + 59_000);
    assert.deepEqual(await adapter('DeviceCode').find(id), payload);
    assert.deepEqual(await adapter('DeviceCode').findByUid(payload.uid), withoutJti(payload));
    assert.deepEqual(await adapter('DeviceCode').findByUserCode(payload.userCode), withoutJti(payload));

    mock.timers.setTime(start + 61_000);
    assert.equal(await adapter('DeviceCode').find(id), undefined);
    assert.equal(await adapter('DeviceCode').findByUid(payload.uid), undefined);
    assert.equal(await adapter('DeviceCode').findByUserCode(payload.userCode), undefined);
    assert.deepEqual(
      await adapter('Grant').find(forever),
      { jti: forever, accountId: 'usr_1' },
      'expiresIn 0 means no expiry',
    );
  });

  it('finds a session by its uid and a device code by its user code, within their own kind only', async () => {
    const uid = unique('uid');
    const session = { jti: unique('sess'), uid, accountId: 'usr_1' };
    await adapter('Session').upsert(session.jti, session, 600);
    assert.deepEqual(await adapter('Session').findByUid(uid), withoutJti(session));
    assert.equal(await adapter('Interaction').findByUid(uid), undefined);
    assert.equal(await adapter('Session').findByUid(unique('uid')), undefined);

    const userCode = unique('WDJB-MJHT');
    const device = { jti: unique('dc'), userCode, clientId: 'tv' };
    await adapter('DeviceCode').upsert(device.jti, device, 600);
    assert.deepEqual(await adapter('DeviceCode').findByUserCode(userCode), withoutJti(device));
    assert.equal(await adapter('AuthorizationCode').findByUserCode(userCode), undefined);
  });

  it('marks a consumed code so that find reports consumed, and leaves other codes unconsumed', async () => {
    const code = unique('code');
    const other = unique('code');
    const payload = { jti: code, grantId: unique('grant'), clientId: 'web', kind: 'AuthorizationCode' };
    await adapter('AuthorizationCode').upsert(code, payload, 60);
    await adapter('AuthorizationCode').upsert(other, { ...payload, jti: other }, 60);
    assert.equal((await adapter('AuthorizationCode').find(code))?.consumed, undefined);

    await adapter('AuthorizationCode').consume(code);
    const consumed = await adapter('AuthorizationCode').find(code);
    assert.ok(consumed?.consumed, 'consumed must be truthy after consume()');
    assert.deepEqual({ ...consumed, consumed: undefined }, { ...payload, consumed: undefined });
    assert.equal((await adapter('AuthorizationCode').find(other))?.consumed, undefined);
  });

  it('lets exactly one of several concurrent consume() calls win; the others revoke the grant and throw invalid_grant', async () => {
    const grantId = unique('grant');
    const token = unique('rt');
    await adapter('Grant').upsert(grantId, { jti: grantId, accountId: 'usr_1' }, 600);
    await adapter('RefreshToken').upsert(token, { jti: token, grantId, kind: 'RefreshToken' }, 600);
    const sibling = unique('at');
    await adapter('AccessToken').upsert(sibling, { jti: sibling, grantId, kind: 'AccessToken' }, 600);

    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, () => adapter('RefreshToken').consume(token)),
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, 'exactly one winner');
    for (const lost of outcomes.filter((o) => o.status === 'rejected')) {
      assert.equal((lost.reason as { error?: string }).error, 'invalid_grant');
    }
    assert.equal(await adapter('Grant').find(grantId), undefined, 'the grant itself is gone');
    assert.equal(await adapter('RefreshToken').find(token), undefined);
    assert.equal(await adapter('AccessToken').find(sibling), undefined);
  });

  it('treats consuming an already consumed or vanished row as reuse', async () => {
    const code = unique('code');
    await adapter('AuthorizationCode').upsert(code, { jti: code, grantId: unique('grant') }, 60);
    await adapter('AuthorizationCode').consume(code);
    await assert.rejects(adapter('AuthorizationCode').consume(code), { error: 'invalid_grant' });
    await assert.rejects(adapter('AuthorizationCode').consume(unique('code')), { error: 'invalid_grant' });
  });

  it('keys bearer rows by a digest and keeps no copy of the id in the stored payload', async () => {
    const kinds = ['AuthorizationCode', 'RefreshToken', 'AccessToken', 'Session', 'Interaction'] as const;
    const stored = kinds.map((kind) => ({ kind, id: unique('bearer') }));
    const extra = (kind: string, id: string) =>
      kind === 'Interaction'
        ? { returnTo: `https://tg.test/auth/${id}`, session: { uid: 'u1', cookie: 'the-session-cookie' } }
        : {};
    for (const { kind, id } of stored)
      await adapter(kind).upsert(id, { jti: id, kind, ...extra(kind, id) }, 600);

    const dump = JSON.stringify(await database.handle.db.selectFrom('oidc_payloads').selectAll().execute());
    for (const { id } of stored) assert.ok(!dump.includes(id), `${id} is stored in clear`);
    assert.ok(!dump.includes('the-session-cookie'), 'an interaction keeps no session cookie');
    for (const { kind, id } of stored) {
      assert.deepEqual(
        await adapter(kind).find(id),
        { jti: id, kind, ...extra(kind, id), ...(kind === 'Interaction' ? { session: { uid: 'u1' } } : {}) },
        `${kind} is found by the presented id and gets its jti (and resume URL) back`,
      );
    }
  });

  it('destroys one row and keeps the same id of another kind', async () => {
    const id = unique('shared-id');
    await adapter('RefreshToken').upsert(id, { jti: id, kind: 'RefreshToken' }, 600);
    await adapter('AccessToken').upsert(id, { jti: id, kind: 'AccessToken' }, 600);
    await adapter('RefreshToken').destroy(id);
    assert.equal(await adapter('RefreshToken').find(id), undefined);
    assert.deepEqual(await adapter('AccessToken').find(id), { jti: id, kind: 'AccessToken' });
  });

  it('revokes every kind that shares a grant id and nothing else', async () => {
    const grantId = unique('grant');
    const otherGrant = unique('grant');
    const ofGrant = [
      ['AccessToken', unique('at')],
      ['AuthorizationCode', unique('code')],
      ['RefreshToken', unique('rt')],
    ] as const;
    for (const [kind, id] of ofGrant) await adapter(kind).upsert(id, { jti: id, grantId }, 600);
    const survivors = [
      ['RefreshToken', unique('rt'), { grantId: otherGrant }],
      ['AccessToken', unique('at'), { grantId: otherGrant }],
      ['Grant', grantId, {}], // the grant's own row is keyed by its id, not by a grantId field
      ['Session', unique('sess'), { authorizations: { web: { grantId } } }],
    ] as const;
    for (const [kind, id, extra] of survivors) await adapter(kind).upsert(id, { jti: id, ...extra }, 600);

    await adapter('RefreshToken').revokeByGrantId(grantId);

    for (const [kind, id] of ofGrant)
      assert.equal(await adapter(kind).find(id), undefined, `${kind} survived`);
    for (const [kind, id] of survivors) assert.ok(await adapter(kind).find(id), `${kind} ${id} was removed`);
  });

  it('looks clients up in the client directory, not in the payload table', async () => {
    const found = await adapter('Client').find(KNOWN_CLIENT.client_id);
    assert.equal(found?.client_id, KNOWN_CLIENT.client_id);
    assert.equal(found?.client_name, KNOWN_CLIENT.name);
    assert.equal(found?.client_secret, KNOWN_CLIENT.secret_digest);
    assert.deepEqual(found?.grant_types, ['client_credentials']);
    await adapter('Client').upsert('svc-stored', { client_id: 'svc-stored' }, 0);
    assert.equal(await adapter('Client').find('svc-stored'), undefined);
  });
});

describe('purging expired rows', () => {
  let database: TestDatabase;
  before(async () => {
    database = await openTestDatabase();
  });
  after(() => database.drop());

  it('deletes expired payloads and denylist entries and keeps live ones', async () => {
    const adapter = adapters(database.handle);
    const revoked = revokedTokenQueries(database.handle.db);
    const now = Date.now();
    await adapter('AuthorizationCode').upsert('code-expiring', { jti: 'code-expiring' }, 10);
    await adapter('RefreshToken').upsert('rt-expiring', { jti: 'rt-expiring' }, 30);
    await adapter('RefreshToken').upsert('rt-live', { jti: 'rt-live' }, 3600);
    await adapter('Grant').upsert('grant-forever', { jti: 'grant-forever' }, 0);
    await revoked.add({ jti: 'jti-expiring', clientId: 'svc', expiresAt: new Date(now + 10_000) });
    await revoked.add({ jti: 'jti-live', clientId: 'svc', expiresAt: new Date(now + 3_600_000) });

    assert.deepEqual(await purgeExpired(database.handle, new Date(now)), { payloads: 0, revoked: 0 });
    const purged = await purgeExpired(database.handle, new Date(now + 60_000));

    assert.deepEqual(purged, { payloads: 2, revoked: 1 });
    assert.equal(await countRows(database.handle, 'oidc_payloads'), 2);
    assert.equal(await countRows(database.handle, 'revoked_tokens'), 1);
    assert.ok(await adapter('RefreshToken').find('rt-live'));
    assert.ok(await adapter('Grant').find('grant-forever'));
    assert.equal(await revoked.isRevoked('jti-live'), true);
    assert.equal(await revoked.isRevoked('jti-expiring'), false);
  });
});

/** An empty, unmigrated database: in-memory PGlite, or a new PostgreSQL database. */
async function openEmptyDatabase(): Promise<{ handles: DatabaseHandle[]; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) {
    const handle = await openDatabase({ kind: 'pglite', dataDir: undefined });
    return { handles: [handle], drop: () => handle.close() };
  }
  const created = await createPostgresDatabase();
  // Two pools on one database, as two instances starting together would have.
  const handles = [
    await openDatabase({ kind: 'postgres', url: created.url }),
    await openDatabase({ kind: 'postgres', url: created.url }),
  ];
  return {
    handles,
    async drop() {
      for (const handle of handles) await handle.close();
      await created.drop();
    },
  };
}

describe('migrations', () => {
  it('apply every migration once on an empty database, even from instances starting together', async () => {
    const empty = await openEmptyDatabase();
    try {
      const runs = await Promise.all(empty.handles.map((handle) => migrateToLatest(handle.db)));
      assert.deepEqual(runs.flat().sort(), Object.keys(migrations).sort());
      for (const handle of empty.handles) assert.deepEqual(await migrateToLatest(handle.db), []);
      const [handle] = empty.handles;
      assert.ok(handle);
      assert.equal(await countRows(handle, 'oidc_payloads'), 0, 'the schema is usable');
    } finally {
      await empty.drop();
    }
  });

  it('leave an already migrated database and its rows untouched when run again', async () => {
    const database = await openTestDatabase();
    try {
      await adapters(database.handle)('Session').upsert('kept', { jti: 'kept' }, 600);
      assert.deepEqual(await migrateToLatest(database.handle.db), []);
      assert.deepEqual(await migrateToLatest(database.handle.db), []);
      assert.deepEqual(await adapters(database.handle)('Session').find('kept'), { jti: 'kept' });
    } finally {
      await database.drop();
    }
  });

  it('0006_payload_digests down removes the digest-keyed rows it cannot restore and gives grants their jti back', async () => {
    const database = await openTestDatabase();
    try {
      const adapter = adapters(database.handle);
      const db = database.handle.db;
      await adapter('Session').upsert('sess-1', { jti: 'sess-1', accountId: 'usr_1' }, 600);
      await adapter('Grant').upsert('grant-1', { jti: 'grant-1', accountId: 'usr_1' }, 600);

      await payloadDigests.down(db as never);
      const rows = await db.selectFrom('oidc_payloads').select(['kind', 'id', 'payload']).execute();
      assert.deepEqual(rows, [
        { kind: 'Grant', id: 'grant-1', payload: { jti: 'grant-1', accountId: 'usr_1' } },
      ]);

      await payloadDigests.up(db as never);
      assert.deepEqual(await adapter('Grant').find('grant-1'), { jti: 'grant-1', accountId: 'usr_1' });
    } finally {
      await database.drop();
    }
  });
});
