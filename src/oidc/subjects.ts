import type { X509Certificate } from 'node:crypto';
import type { AccessTokenVerifier, InvalidTokenDetail } from './access-token-verifier.ts';
import type { DpopRequest, DpopVerifier } from './dpop.ts';
import { certificateBinds } from './mtls.ts';
import type { UserDirectory } from './user-directory.ts';

export interface ResolvedSubject {
  id: string;
  roles: string[];
  attrs: Record<string, unknown>;
}

export type SubjectResolution =
  | { ok: true; subject: ResolvedSubject }
  | { ok: false; detail: InvalidTokenDetail | 'subject_gone' | 'dpop' | 'mtls' };

export interface ResolveOptions {
  /**
   * The audiences the caller expects (a gateway's APIs, or `subject.audience` at /decide); the
   * token's `aud` must be one of them, and of the configured ones when both are set.
   */
  audiences?: readonly string[] | undefined;
  /** The DPoP proof that came with the token and the request it was made for, if any. */
  dpop?: DpopRequest | undefined;
  /** The client certificate of the original request's TLS connection, if any (RFC 8705). */
  certificate?: X509Certificate | undefined;
}

/**
 * Turns an end user's (or a client's) access token into a decision subject: `sub` is the id,
 * the `roles` claim the roles, and the attributes are the user's current attributes (so a
 * change applies without new tokens) plus the token's client_id, scope and audience.
 *
 * Sender-constrained tokens: a DPoP-bound token (`cnf.jkt`, RFC 9449) resolves only with a
 * valid proof for the original request (`options.dpop`), else `detail: dpop`; a
 * certificate-bound one (`cnf.x5t#S256`, RFC 8705) only with that certificate
 * (`options.certificate`), else `detail: mtls`.
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
  /** The binding the API of this audience requires of its tokens (`api create --require-binding`). */
  requiredBinding: (audience: string) => Promise<'none' | 'dpop' | 'mtls'>;
}) {
  /**
   * RFC 9449 §7.1 and RFC 8705 §3: a token bound to a key is worth nothing without a proof of
   * that key for this very request, and one bound to a certificate nothing without that
   * certificate. A confirmation of any other kind cannot be checked here: refused.
   */
  async function confirmed(
    cnf: unknown,
    token: string,
    options: ResolveOptions,
  ): Promise<{ kinds: ('dpop' | 'mtls')[]; refused?: 'malformed' | 'dpop' | 'mtls' }> {
    if (cnf === undefined) return { kinds: [] };
    if (cnf === null || typeof cnf !== 'object') return { kinds: [], refused: 'malformed' };
    const { jkt, 'x5t#S256': x5t, ...other } = cnf as Record<string, unknown>;
    const kinds: ('dpop' | 'mtls')[] = [];
    if (Object.keys(other).length > 0 || (jkt === undefined && x5t === undefined))
      return { kinds, refused: 'malformed' };
    if (jkt !== undefined) {
      if (typeof jkt !== 'string') return { kinds, refused: 'malformed' };
      if ((await deps.verifyDpop(options.dpop, token, jkt)) !== undefined) return { kinds, refused: 'dpop' };
      kinds.push('dpop');
    }
    if (x5t !== undefined) {
      if (typeof x5t !== 'string') return { kinds, refused: 'malformed' };
      if (!certificateBinds(options.certificate, x5t)) return { kinds, refused: 'mtls' };
      kinds.push('mtls');
    }
    return { kinds };
  }

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
    const binding = await confirmed(payload.cnf, token, options);
    if (binding.refused) return { ok: false, detail: binding.refused };
    // Issued before its API required binding, or by any other means: refused all the same.
    for (const audience of audiencesOf(payload.aud)) {
      if (typeof audience !== 'string') continue;
      const required = await deps.requiredBinding(audience);
      if (required !== 'none' && !binding.kinds.includes(required)) return { ok: false, detail: required };
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
