import type { AccessTokenVerifier, InvalidTokenDetail } from './access-token-verifier.ts';
import type { DpopRequest, DpopVerifier } from './dpop.ts';
import type { UserDirectory } from './user-directory.ts';

export interface ResolvedSubject {
  id: string;
  roles: string[];
  attrs: Record<string, unknown>;
}

export type SubjectResolution =
  | { ok: true; subject: ResolvedSubject }
  | { ok: false; detail: InvalidTokenDetail | 'subject_gone' | 'dpop' };

export interface ResolveOptions {
  /**
   * The audiences the caller expects (a gateway's APIs, or `subject.audience` at /decide); the
   * token's `aud` must be one of them, and of the configured ones when both are set.
   */
  audiences?: readonly string[] | undefined;
  /** The DPoP proof that came with the token and the request it was made for, if any. */
  dpop?: DpopRequest | undefined;
}

/**
 * Turns an end user's (or a client's) access token into a decision subject: `sub` is the id,
 * the `roles` claim the roles, and the attributes are the user's current attributes (so a
 * change applies without new tokens) plus the token's client_id, scope and audience.
 *
 * Sender-constrained tokens (RFC 9449): a DPoP-bound token (`cnf.jkt`) resolves only with a
 * valid proof for the original request (`options.dpop`), else `detail: dpop`.
 *
 * Audience (issue 9: a token a low-trust app got for its own API must not open another API):
 * `audiences` (SUBJECT_TOKEN_AUDIENCES) bounds every caller; a caller's own expectation narrows
 * it further. With neither, any API registered here is accepted, as documented, except Tollgate's
 * own (`ownAudience`), whose tokens are machine credentials for the admin and decide APIs.
 */
export function createSubjectResolver(deps: {
  verifier: AccessTokenVerifier;
  users: UserDirectory;
  audiences?: string[] | undefined;
  ownAudience: string;
  verifyDpop: DpopVerifier;
  /** Whether the API of this audience accepts DPoP-bound tokens only (`api create --require-binding`). */
  requiresBinding: (audience: string) => Promise<boolean>;
}) {
  return async function resolveSubject(
    token: string,
    options: ResolveOptions = {},
  ): Promise<SubjectResolution> {
    const expected = expectedAudiences(deps.audiences, options.audiences);
    if (expected?.length === 0) return { ok: false, detail: 'audience' };
    const result = await deps.verifier.verifyCached(token, expected ? { audience: expected } : {});
    if (!result.valid) return { ok: false, detail: result.detail };
    const { payload } = result;
    if (!expected && audiencesOf(payload.aud).includes(deps.ownAudience))
      return { ok: false, detail: 'audience' };
    if (typeof payload.sub !== 'string') return { ok: false, detail: 'malformed' };
    // RFC 9449 §7.1: a token bound to a key is worth nothing without a proof of that key for
    // this very request. A confirmation of any other kind cannot be checked here: refused.
    if (payload.cnf !== undefined) {
      const jkt = (payload.cnf as { jkt?: unknown } | null)?.jkt;
      if (typeof jkt !== 'string') return { ok: false, detail: 'malformed' };
      if ((await deps.verifyDpop(options.dpop, token, jkt)) !== undefined)
        return { ok: false, detail: 'dpop' };
    } else {
      // Issued before its API required binding, or by any other means: refused all the same.
      for (const audience of audiencesOf(payload.aud))
        if (typeof audience === 'string' && (await deps.requiresBinding(audience)))
          return { ok: false, detail: 'dpop' };
    }
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

/** The audiences a token must carry one of, or undefined when nothing restricts them. */
function expectedAudiences(
  configured: readonly string[] | undefined,
  requested: readonly string[] | undefined,
): string[] | undefined {
  if (requested === undefined) return configured && [...configured];
  if (configured === undefined) return [...requested];
  return requested.filter((audience) => configured.includes(audience));
}

function audiencesOf(aud: unknown): unknown[] {
  return Array.isArray(aud) ? aud : [aud];
}
