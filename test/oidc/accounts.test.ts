import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DatabaseHandle, userQueries } from '../../src/db/index.ts';
import { createFindAccount, requestUsers } from '../../src/oidc/accounts.ts';
import { ENGINE, suiteDatabase } from '../helpers/database.ts';

describe(`users as one token request reads them, on ${ENGINE}`, () => {
  let db: DatabaseHandle;
  suiteDatabase((opened) => {
    db = opened.handle;
  });

  const insertUser = (id: string) =>
    userQueries(db.db).insert({ id, username: id, password_hash: 'x', roles: ['clerk'], attributes: {} });

  it('a request keeps the user it read; the next request, or none, reads afresh', async () => {
    await insertUser('u-once');
    const users = requestUsers(db);
    const request = {};
    assert.equal((await users.find(request, 'u-once'))?.disabled, false);
    await userQueries(db.db).setDisabled('u-once', true);
    assert.equal(
      (await users.find(request, 'u-once'))?.disabled,
      false,
      'the same request keeps what it read',
    );
    assert.equal((await users.find({}, 'u-once'))?.disabled, true, 'the next request sees the change');
    assert.equal((await users.find(undefined, 'u-once'))?.disabled, true, 'no request: no memory');
  });

  it('gives a disabled or deleted user no account from the next request on', async () => {
    await insertUser('u-gone');
    const findAccount = createFindAccount(requestUsers(db));
    // biome-ignore lint/suspicious/noExplicitAny: oidc-provider's context is not needed here
    const ctx = () => ({}) as any;
    assert.equal((await findAccount(ctx(), 'u-gone'))?.accountId, 'u-gone');
    await userQueries(db.db).setDisabled('u-gone', true);
    assert.equal(await findAccount(ctx(), 'u-gone'), undefined);
    await userQueries(db.db).setDisabled('u-gone', false);
    await userQueries(db.db).delete('u-gone');
    assert.equal(await findAccount(ctx(), 'u-gone'), undefined);
  });
});
