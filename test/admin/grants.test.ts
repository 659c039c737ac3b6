import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  apiUseCases,
  type ClientUseCases,
  clientUseCases,
  createApiInput,
  createClientInput,
  grantInput,
} from '../../src/admin/index.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { parsed, rejectsWith } from './admin-fixtures.ts';

const BOOKS = 'https://books.example.test';
const LEDGER = 'https://ledger.example.test';

describe("a client's grants, one API at a time", () => {
  let database: TestDatabase;
  let clients: ClientUseCases;
  let clientId: string;
  const changed: string[] = [];

  before(async () => {
    database = await openTestDatabase();
    const apis = apiUseCases(database.handle);
    await apis.create(parsed(createApiInput, { audience: BOOKS, scopes: ['read', 'write'] }));
    await apis.create(parsed(createApiInput, { audience: LEDGER, scopes: ['post'] }));
    clients = clientUseCases(
      database.handle,
      async () => {},
      (id) => {
        changed.push(id);
      },
    );
    clientId = (
      await clients.create(
        parsed(createClientInput, {
          name: 'svc',
          grant_types: ['client_credentials'],
          scope: 'read',
          api: BOOKS,
        }),
      )
    ).client_id;
  });
  after(() => database.drop());
  beforeEach(() => {
    changed.length = 0;
  });

  const grant = (body: Record<string, unknown>, id = clientId) => clients.grant(id, parsed(grantInput, body));
  const grantsNow = async () => (await clients.list()).find((c) => c.client_id === clientId)?.grants;

  it('adds a grant for another API, with introspection, and reports the change', async () => {
    const answer = await grant({ api: LEDGER, scopes: ['post'], introspect: true });
    assert.deepEqual(answer, { after: { api: LEDGER, scopes: ['post'], introspect: true } });
    assert.deepEqual(
      (await grantsNow())?.sort((a, b) => a.api.localeCompare(b.api)),
      [
        { api: BOOKS, scopes: ['read'], introspect: false },
        { api: LEDGER, scopes: ['post'], introspect: true },
      ],
    );
    assert.deepEqual(changed, [clientId]);
  });

  it('replaces the scopes of an API already granted, answering before and after', async () => {
    const answer = await grant({ api: BOOKS, scopes: ['read', 'write', 'write'] });
    assert.deepEqual(answer, {
      before: { api: BOOKS, scopes: ['read'], introspect: false },
      after: { api: BOOKS, scopes: ['read', 'write'], introspect: false },
    });
    assert.deepEqual(
      (await grantsNow())?.find((g) => g.api === BOOKS),
      { api: BOOKS, scopes: ['read', 'write'], introspect: false },
      'stored once, duplicates dropped',
    );
  });

  it('takes one API away, leaving the others', async () => {
    const before = await clients.ungrant(clientId, LEDGER);
    assert.deepEqual(before, { api: LEDGER, scopes: ['post'], introspect: true });
    assert.deepEqual(await grantsNow(), [{ api: BOOKS, scopes: ['read', 'write'], introspect: false }]);
    assert.deepEqual(changed, [clientId]);
    await rejectsWith(
      clients.ungrant(clientId, LEDGER),
      'not_found',
      new RegExp(`^client ${clientId} holds no grant for https://ledger\\.example\\.test$`),
    );
  });

  it('answers not_found for a client that does not exist, and stores nothing', async () => {
    await rejectsWith(
      grant({ api: BOOKS, scopes: ['read'] }, 'cl_missing'),
      'not_found',
      /^client cl_missing does not exist$/,
    );
    await rejectsWith(clients.ungrant('cl_missing', BOOKS), 'not_found', /^client cl_missing holds no grant/);
    assert.deepEqual(changed, []);
  });

  describe('refuses what names no API or scope of it, naming the field, and changes nothing', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        'an API that does not exist',
        { api: 'https://nowhere.example.test', scopes: [] },
        /^api: no API with audience https:\/\/nowhere\.example\.test; create it first$/,
      ],
      [
        'a scope the API does not have',
        { api: LEDGER, scopes: ['post', 'void'] },
        /^scopes: void is not a scope of API https:\/\/ledger\.example\.test \(its scopes: post\)$/,
      ],
    ];
    for (const [name, body, description] of cases) {
      it(name, async () => {
        const before = await grantsNow();
        await rejectsWith(grant(body), 'invalid_request', description);
        assert.deepEqual(await grantsNow(), before);
        assert.deepEqual(changed, []);
      });
    }
  });

  describe('refuses a malformed grant, naming the field', () => {
    const cases: [string, unknown, RegExp][] = [
      ['no API', { scopes: ['read'] }, /^api: /],
      ['an empty API', { api: '', scopes: ['read'] }, /^api: is required$/],
      ['a scope with a quote', { api: BOOKS, scopes: ['re"ad'] }, /^scopes\.0: must be a scope token/],
      ['introspect not a boolean', { api: BOOKS, introspect: 'yes' }, /^introspect: /],
      ['unknown field', { api: BOOKS, audience: BOOKS }, /^unknown field audience$/],
    ];
    for (const [name, body, description] of cases) {
      it(name, async () => {
        await rejectsWith(() => parsed(grantInput, body), 'invalid_request', description);
      });
    }
  });
});
