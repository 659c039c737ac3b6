import type { AccessTokenVerifier, InvalidTokenDetail } from './access-token-verifier.ts';
import type { UserDirectory } from './user-directory.ts';

export interface ResolvedSubject {
  id: string;
  roles: string[];
  attrs: Record<string, unknown>;
}

export type SubjectResolution =
  | { ok: true; subject: ResolvedSubject }
  | { ok: false; detail: InvalidTokenDetail | 'subject_gone' };

/**
 * Turns an end user's (or a client's) access token into a decision subject: `sub` is the id,
 * the `roles` claim the roles, and the attributes are the user's current attributes (so a
 * change applies without new tokens) plus the token's client_id, scope and audience.
 */
export function createSubjectResolver(deps: {
  verifier: AccessTokenVerifier;
  users: UserDirectory;
  audiences?: string[];
}) {
  return async function resolveSubject(token: string): Promise<SubjectResolution> {
    const result = await deps.verifier.verifyCached(
      token,
      deps.audiences ? { audience: deps.audiences } : {},
    );
    if (!result.valid) return { ok: false, detail: result.detail };
    const { payload } = result;
    if (typeof payload.sub !== 'string') return { ok: false, detail: 'malformed' };
    // Issue 9: a deleted or disabled user's tokens die with the user, not at their expiry.
    const current = await deps.users.tokenSubject(payload);
    if (current.kind === 'gone') return { ok: false, detail: 'subject_gone' };
    const user = current.kind === 'user' ? current.user : undefined;
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((r): r is string => typeof r === 'string')
      : [];
    const attrs: Record<string, unknown> = Object.create(null);
    for (const [key, value] of Object.entries(user?.attributes ?? {})) attrs[key] = value;
    attrs.client_id = payload.client_id;
    attrs.scope = payload.scope ?? '';
    attrs.aud = payload.aud;
    return { ok: true, subject: { id: payload.sub, roles, attrs } };
  };
}
