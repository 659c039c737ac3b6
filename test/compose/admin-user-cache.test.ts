import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openTestDatabase } from '../helpers/database.ts';
import { createClient } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { loggedInUser } from '../helpers/users.ts';

const API = 'https://ledger.example.test';

// The instance that deletes a user must refuse the user's tokens in its very next answer. Here
// nothing else could tell it: its database handle delivers no NOTIFY and its followers poll once
// a minute, while its user cache trusts an entry for 5 s. Only the use case the composition root
// wired to that cache can drop the user in time, as for clients.
describe('deleting a user through /admin/users', () => {
  let tg: TestInstance;
  let resourceServer: { client_id: string; client_secret?: string };

  before(async () => {
    const database = await openTestDatabase();
    const deaf = { ...database.handle, listen: async () => async () => {} };
    tg = await startTestInstance({}, { database: { ...database, handle: deaf }, pollMs: 60_000 });
  });
  after(() => tg?.close());

  const introspect = async (token: string) => {
    const basic = Buffer.from(`${resourceServer.client_id}:${resourceServer.client_secret}`).toString(
      'base64',
    );
    const response = await fetch(`${tg.url}/token/introspection`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { active: boolean }).active;
  };

  it('refuses the user token on this instance at once, not when the cache entry expires', async () => {
    const user = await loggedInUser(
      tg,
      { username: 'wendy', password: 'wendy password', roles: ['accountant'] },
      { audience: API },
    );
    // The API's resource server, which may introspect its tokens.
    resourceServer = await createClient(tg, {
      name: 'ledger-api',
      grant_types: ['client_credentials'],
      grants: [{ api: API, scopes: ['read'], introspect: true }],
    });
    assert.equal(await introspect(user.accessToken), true, 'the user is cached as live');
    assert.equal((await tg.admin$('DELETE', `/users/${user.userId}`)).status, 204);
    assert.equal(await introspect(user.accessToken), false, 'the deleted user token is still active');
  });
});
