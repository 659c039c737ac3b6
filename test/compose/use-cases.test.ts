import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApiInput, createUserInput } from '../../src/admin/index.ts';
import { createUseCases, type UseCases } from '../../src/compose/index.ts';
import { clientQueries } from '../../src/db/index.ts';
import { UserDirectory } from '../../src/oidc/index.ts';
import { parsed } from '../admin/admin-fixtures.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';

// The root builds the use cases once, wired to this instance's caches. The user directory here
// is never started: it follows no NOTIFY and polls nothing, so only that wiring can drop a user
// from it before its cache TTL (5 s) runs out.
describe('use cases as the composition root wires them', () => {
  let database: TestDatabase;
  let directory: UserDirectory;
  let useCases: UseCases;
  const invalidated: string[] = [];
  let grantRefreshes = 0;

  before(async () => {
    database = await openTestDatabase();
    directory = new UserDirectory(database.handle, { pollMs: 60_000 });
    useCases = createUseCases({
      db: database.handle,
      oidc: {
        get provider(): never {
          throw new Error('no client is created here');
        },
        clients: { find: async () => undefined, invalidate: (id) => invalidated.push(`client ${id}`) },
        apis: { find: async () => undefined, invalidate: (id) => invalidated.push(`api ${id}`) },
        decisionApis: {
          find: async () => undefined,
          invalidate: (id) => invalidated.push(`decision api ${id}`),
        },
      },
      grants: {
        refresh: async () => {
          grantRefreshes += 1;
        },
      },
      userDirectory: directory,
    });
  });
  after(() => database.drop());

  const newUser = async (username: string) => {
    const { id } = await useCases.users.create(
      parsed(createUserInput, { username, password: `${username} password` }),
    );
    assert.equal((await directory.find(id))?.username, username, 'the directory caches the user');
    return id;
  };

  it('deleting a user drops it from this instance at once, not after the cache TTL', async () => {
    const id = await newUser('ursula');
    await useCases.users.delete(id);
    assert.equal(await directory.find(id), undefined);
    assert.deepEqual(await directory.tokenSubject({ sub: id, client_id: 'cl_web', iat: 1 }), {
      kind: 'gone',
    });
  });

  it('disabling a user takes effect at once too', async () => {
    const id = await newUser('victor');
    await useCases.users.setDisabled(id, true);
    assert.equal((await directory.find(id))?.disabled, true);
  });

  it('deleting a client drops it from the client cache and re-reads the grants before answering', async () => {
    await clientQueries(database.handle.db).insert({
      client_id: 'cl_gone',
      name: 'gone',
      secret_digest: null,
      metadata: { grant_types: ['client_credentials'] },
      roles: [],
    });
    const before = grantRefreshes;
    await useCases.clients.delete('cl_gone');
    assert.ok(invalidated.includes('client cl_gone'));
    assert.equal(grantRefreshes, before + 1);
  });

  it('creating an API drops its cached absence from the token endpoint and from the decision point', async () => {
    await useCases.apis.create(
      parsed(createApiInput, { audience: 'https://new.example.test', scopes: ['read'] }),
    );
    assert.ok(invalidated.includes('api https://new.example.test'));
    assert.ok(invalidated.includes('decision api https://new.example.test'));
  });
});
