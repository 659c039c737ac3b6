import type { Account, FindAccount } from 'oidc-provider';
import { type DatabaseHandle, type UserRow, userQueries } from '../db/index.ts';

/** Claims per scope (OIDC Core §5.4); `roles` travels with `profile` for ID tokens and userinfo. */
export const CLAIMS = { openid: ['sub'], profile: ['preferred_username', 'roles'] } as const;

/**
 * Users as one request reads them: oidc-provider looks the account up (findAccount) and
 * Tollgate reads its roles for the token (extraTokenClaims) in the same token request, and the
 * database is asked once. Never across requests: a disabled user gets no new token from the
 * next request on, on every instance.
 */
export function requestUsers(db: DatabaseHandle) {
  const users = userQueries(db.db);
  const read = new WeakMap<object, Map<string, Promise<UserRow | undefined>>>();
  return {
    find(ctx: object | undefined, id: string): Promise<UserRow | undefined> {
      if (typeof ctx !== 'object' || ctx === null) return users.find(id);
      let known = read.get(ctx);
      if (!known) {
        known = new Map();
        read.set(ctx, known);
      }
      let user = known.get(id);
      if (!user) {
        user = users.find(id);
        known.set(id, user);
      }
      return user;
    },
  };
}

export function createFindAccount(users: ReturnType<typeof requestUsers>): FindAccount {
  return async (ctx, sub) => {
    const user = await users.find(ctx, sub);
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
