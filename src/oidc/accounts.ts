import type { Account, FindAccount } from 'oidc-provider';
import { type DatabaseHandle, type UserRow, userQueries } from '../db/index.ts';

/** Claims per scope (OIDC Core §5.4); `roles` travels with `profile` for ID tokens and userinfo. */
export const CLAIMS = { openid: ['sub'], profile: ['preferred_username', 'roles'] } as const;

export function createFindAccount(db: DatabaseHandle): FindAccount {
  const users = userQueries(db.db);
  return async (_ctx, sub) => {
    const user = await users.find(sub);
    // A disabled or deleted user gets no new tokens, userinfo or refreshed grants.
    if (!user || user.disabled) return undefined;
    return toAccount(user);
  };
}

function toAccount(user: UserRow): Account {
  return {
    accountId: user.id,
    async claims() {
      return { sub: user.id, preferred_username: user.username, roles: user.roles };
    },
  };
}
