import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUserInput, userUseCases } from '../../src/admin/index.ts';
import { verifyPassword } from '../../src/common/index.ts';
import { userQueries } from '../../src/db/index.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { parsed, rejectsWith } from './admin-fixtures.ts';

describe('user use cases', () => {
  let database: TestDatabase;
  let users: ReturnType<typeof userUseCases>;
  const changed: string[] = [];
  before(async () => {
    database = await openTestDatabase();
    users = userUseCases(database.handle, (id) => changed.push(id));
  });
  after(() => database.drop());

  const create = (body: Record<string, unknown>) => users.create(parsed(createUserInput, body));

  it('creates a user with roles and attributes, storing only a hash of the password', async () => {
    const { id } = await create({
      username: 'olivia',
      password: 'olivia password',
      roles: ['accountant'],
      attrs: { tenant: 'acme' },
    });
    assert.match(id, /^usr_/);
    const view = await users.get(id);
    assert.deepEqual(
      { ...view, created_at: undefined },
      {
        id,
        username: 'olivia',
        roles: ['accountant'],
        attrs: { tenant: 'acme' },
        disabled: false,
        created_at: undefined,
      },
    );
    assert.ok(!Number.isNaN(Date.parse(view?.created_at ?? '')));
    assert.deepEqual(await users.list(), [view]);
    const row = await userQueries(database.handle.db).find(id);
    assert.ok(row && !row.password_hash.includes('olivia password'), 'no password in clear');
    assert.equal(await verifyPassword(row.password_hash, 'olivia password'), true);
    assert.equal(await verifyPassword(row.password_hash, 'not her password'), false);
  });

  it('trims the username, and defaults roles and attributes to none', async () => {
    const { id } = await create({ username: '  peter ', password: 'peter password' });
    const view = await users.get(id);
    assert.deepEqual([view?.username, view?.roles, view?.attrs], ['peter', [], {}]);
  });

  it('refuses a username that is taken, naming the field, and keeps the first user as it was', async () => {
    const before = await users.list();
    await rejectsWith(
      create({ username: 'olivia', password: 'another password', roles: ['admin'] }),
      'conflict',
      /^username: olivia is taken$/,
    );
    assert.deepEqual(await users.list(), before);
    const olivia = await userQueries(database.handle.db).findByUsername('olivia');
    assert.equal(await verifyPassword(olivia?.password_hash, 'olivia password'), true);
  });

  it('disables and enables a user, reporting each change', async () => {
    const { id } = await create({ username: 'quinn', password: 'quinn password' });
    changed.length = 0;
    const disabled = await users.setDisabled(id, true);
    assert.equal(disabled.disabled, true);
    assert.equal((await users.get(id))?.disabled, true, 'stored');
    const enabled = await users.setDisabled(id, false);
    assert.equal(enabled.disabled, false);
    assert.equal((await users.get(id))?.disabled, false, 'stored');
    assert.deepEqual(changed, [id, id]);
  });

  it('deletes a user, reports it, and answers not_found for a user that does not exist', async () => {
    const { id } = await create({ username: 'rita', password: 'rita password' });
    changed.length = 0;
    await users.delete(id);
    assert.equal(await users.get(id), undefined);
    assert.ok(!(await users.list()).some((u) => u.id === id));
    assert.deepEqual(changed, [id]);
    await rejectsWith(users.delete(id), 'not_found', new RegExp(`^user ${id} does not exist$`));
    await rejectsWith(users.setDisabled(id, true), 'not_found', new RegExp(`^user ${id} does not exist$`));
    assert.deepEqual(changed, [id], 'nothing reported for a user that is not there');
  });

  it('lets a deleted username be taken again', async () => {
    const { id } = await create({ username: 'sam', password: 'sam password 1' });
    await users.delete(id);
    const again = await create({ username: 'sam', password: 'sam password 2' });
    assert.notEqual(again.id, id);
  });

  describe('refuses malformed input, naming the field', () => {
    const cases: [string, unknown, RegExp][] = [
      ['no username', { password: 'long enough' }, /^username: /],
      ['blank username', { username: '   ', password: 'long enough' }, /^username: is required$/],
      [
        'short password',
        { username: 'tess', password: 'short' },
        /^password: must be at least 8 characters$/,
      ],
      [
        'a role with a space',
        { username: 'tess', password: 'long enough', roles: ['ok', 'not ok'] },
        /^roles\.1: must be letters, digits or _ \. : - \*$/,
      ],
      [
        'a non-string attribute',
        { username: 'tess', password: 'long enough', attrs: { tenant: 1 } },
        /^attrs\.tenant: /,
      ],
      ['unknown field', { username: 'tess', password: 'long enough', admin: true }, /^unknown field admin$/],
    ];
    for (const [name, body, description] of cases) {
      it(name, async () => {
        await rejectsWith(() => parsed(createUserInput, body), 'invalid_request', description);
      });
    }
  });
});
