import { hashPassword, newId, TollgateError } from '../common/index.ts';
import { type DatabaseHandle, type UserRow, userQueries } from '../db/index.ts';
import type { CreateUserInput } from './schemas.ts';

export interface UserView {
  id: string;
  username: string;
  roles: string[];
  attrs: Record<string, string>;
  disabled: boolean;
  created_at: string;
}

export type UserUseCases = ReturnType<typeof userUseCases>;

/**
 * Users behind the admin API. `onChange` runs after a delete, disable or enable, so this
 * instance's user cache forgets the user at once (the others learn it by NOTIFY).
 */
export function userUseCases(db: DatabaseHandle, onChange: (id: string) => void = () => {}) {
  const users = userQueries(db.db);
  return {
    async create(input: CreateUserInput): Promise<{ id: string }> {
      if (await users.findByUsername(input.username)) {
        throw new TollgateError('conflict', `username: ${input.username} is taken`);
      }
      const id = newId('usr');
      await users.insert({
        id,
        username: input.username,
        password_hash: await hashPassword(input.password),
        roles: input.roles,
        attributes: input.attrs,
      });
      return { id };
    },
    async list(): Promise<UserView[]> {
      return (await users.list()).map(toView);
    },
    async get(id: string): Promise<UserView | undefined> {
      const row = await users.find(id);
      return row && toView(row);
    },
    /** Deletes the user with every grant, session and token issued to them (issue 9). */
    async delete(id: string): Promise<void> {
      const deleted = await users.delete(id);
      if (deleted) onChange(id);
      if (!deleted) throw new TollgateError('not_found', `user ${id} does not exist`);
    },
    /**
     * Disabling refuses sign-in, revokes every grant, session and token of the user, and refuses
     * their access tokens issued so far, even after a later enable. Enabling restores sign-in.
     */
    async setDisabled(id: string, disabled: boolean): Promise<UserView> {
      const row = await users.setDisabled(id, disabled);
      if (!row) throw new TollgateError('not_found', `user ${id} does not exist`);
      onChange(id);
      return toView(row);
    },
  };
}

function toView(u: UserRow): UserView {
  return {
    id: u.id,
    username: u.username,
    roles: u.roles,
    attrs: u.attributes,
    disabled: u.disabled,
    created_at: u.created_at.toISOString(),
  };
}
