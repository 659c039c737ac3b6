import { hashPassword, newId, TollgateError } from '../common/index.ts';
import { type DatabaseHandle, userQueries } from '../db/index.ts';
import type { CreateUserInput } from './schemas.ts';

export interface UserView {
  id: string;
  username: string;
  roles: string[];
  attrs: Record<string, string>;
  disabled: boolean;
  created_at: string;
}

export function userUseCases(db: DatabaseHandle) {
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
      return (await users.list()).map((u) => ({
        id: u.id,
        username: u.username,
        roles: u.roles,
        attrs: u.attributes,
        disabled: u.disabled,
        created_at: u.created_at.toISOString(),
      }));
    },
    async delete(id: string): Promise<void> {
      if (!(await users.delete(id))) throw new TollgateError('not_found', `user ${id} does not exist`);
    },
  };
}
