import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiUseCases, BUILTIN_API, createApiInput } from '../../src/admin/index.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { parsed, rejectsWith } from './admin-fixtures.ts';

describe('API use cases', () => {
  let database: TestDatabase;
  let apis: ReturnType<typeof apiUseCases>;
  const changed: string[] = [];
  before(async () => {
    database = await openTestDatabase();
    apis = apiUseCases(database.handle, (audience) => changed.push(audience));
  });
  after(() => database.drop());

  it('creates an API with the defaults of the admin API, lists it and reports the change', async () => {
    const input = parsed(createApiInput, {
      audience: 'https://books.example.test',
      scopes: ['read', 'write'],
    });
    const created = await apis.create(input);
    assert.deepEqual(created, {
      audience: 'https://books.example.test',
      name: 'https://books.example.test',
      scopes: ['read', 'write'],
      scope_descriptions: {},
      alg: 'RS256',
      ttl: 300,
      require_binding: 'none',
      builtin: false,
    });
    assert.deepEqual(changed, ['https://books.example.test']);
    const listed = (await apis.list()).find((a) => a.audience === 'https://books.example.test');
    assert.deepEqual(listed, created, 'what was stored is what create answered');
  });

  it('keeps the name, algorithm and lifetime given', async () => {
    const created = await apis.create(
      parsed(createApiInput, {
        audience: 'https://ledger.example.test',
        name: 'Ledger',
        scopes: ['post'],
        alg: 'ES256',
        ttl: 3600,
      }),
    );
    const listed = (await apis.list()).find((a) => a.audience === 'https://ledger.example.test');
    assert.deepEqual(listed, created);
    assert.deepEqual([listed?.name, listed?.alg, listed?.ttl], ['Ledger', 'ES256', 3600]);
  });

  it('stores what each scope lets a client do, as given, for the consent page', async () => {
    const descriptions = { 'statements:read': 'Read your statements <b>& "totals"</b> — all of them' };
    const created = await apis.create(
      parsed(createApiInput, {
        audience: 'https://statements.example.test',
        scopes: ['statements:read', 'statements:export'],
        scope_descriptions: { 'statements:read': `  ${descriptions['statements:read']} ` },
      }),
    );
    assert.deepEqual(created.scope_descriptions, descriptions, 'trimmed, otherwise as given');
    const listed = (await apis.list()).find((a) => a.audience === 'https://statements.example.test');
    assert.deepEqual(listed?.scope_descriptions, descriptions);
  });

  it('refuses a second API with the same audience, naming the field, and stores nothing', async () => {
    const before = await apis.list();
    await rejectsWith(
      apis.create(parsed(createApiInput, { audience: 'https://books.example.test', scopes: ['other'] })),
      'conflict',
      /^audience: an API with audience https:\/\/books\.example\.test exists$/,
    );
    assert.deepEqual(await apis.list(), before);
    const books = before.find((a) => a.audience === 'https://books.example.test');
    assert.deepEqual(books?.scopes, ['read', 'write'], 'the first one is unchanged');
  });

  it('creates the built-in API once, however often it is ensured', async () => {
    await apis.ensureBuiltin();
    await apis.ensureBuiltin();
    const builtin = (await apis.list()).filter((a) => a.audience === BUILTIN_API.audience);
    assert.deepEqual(builtin, [
      {
        audience: 'urn:tollgate',
        name: 'Tollgate',
        scopes: ['admin', 'decide', 'decide:explain', 'metrics'],
        scope_descriptions: {},
        alg: 'ES256',
        ttl: 300,
        require_binding: 'none',
        builtin: true,
      },
    ]);
  });

  describe('refuses malformed input, naming the field', () => {
    const cases: [string, unknown, RegExp][] = [
      ['audience not a URL', { audience: 'books', scopes: ['read'] }, /^audience: must be an absolute URL/],
      [
        'audience with a fragment',
        { audience: 'https://a.example.test/#x', scopes: ['read'] },
        /^audience: must be an absolute URL without a fragment$/,
      ],
      ['no scopes', { audience: 'https://a.example.test', scopes: [] }, /^scopes: needs at least one scope$/],
      [
        'a scope with a space',
        { audience: 'https://a.example.test', scopes: ['read all'] },
        /^scopes\.0: must be a scope token/,
      ],
      ['unknown algorithm', { audience: 'https://a.example.test', scopes: ['r'], alg: 'HS256' }, /^alg: /],
      [
        'lifetime over an hour',
        { audience: 'https://a.example.test', scopes: ['r'], ttl: 3601 },
        /^ttl: must be at most 3600 seconds$/,
      ],
      [
        'fractional lifetime',
        { audience: 'https://a.example.test', scopes: ['r'], ttl: 1.5 },
        /^ttl: must be whole seconds$/,
      ],
      [
        'a description of a scope the API does not have',
        { audience: 'https://a.example.test', scopes: ['r'], scope_descriptions: { w: 'Write' } },
        /^scope_descriptions\.w: describes a scope that is not in scopes$/,
      ],
      [
        'a description with a line break',
        { audience: 'https://a.example.test', scopes: ['r'], scope_descriptions: { r: 'Read\nAllow all' } },
        /^scope_descriptions\.r: must be one line of printable text$/,
      ],
      [
        'a description with a bidirectional override',
        { audience: 'https://a.example.test', scopes: ['r'], scope_descriptions: { r: 'Read \u202Eetirw' } },
        /^scope_descriptions\.r: must be one line of printable text$/,
      ],
      [
        'an empty description',
        { audience: 'https://a.example.test', scopes: ['r'], scope_descriptions: { r: '  ' } },
        /^scope_descriptions\.r: must not be empty/,
      ],
      [
        'a description too long',
        { audience: 'https://a.example.test', scopes: ['r'], scope_descriptions: { r: 'x'.repeat(201) } },
        /^scope_descriptions\.r: must be at most 200 characters$/,
      ],
      [
        'a description that is not text',
        { audience: 'https://a.example.test', scopes: ['r'], scope_descriptions: { r: ['Read'] } },
        /^scope_descriptions\.r: /,
      ],
      [
        'unknown field',
        { audience: 'https://a.example.test', scopes: ['r'], owner: 'x' },
        /^unknown field owner$/,
      ],
    ];
    for (const [name, body, description] of cases) {
      it(name, async () => {
        await rejectsWith(() => parsed(createApiInput, body), 'invalid_request', description);
      });
    }
  });
});
