import type { AdapterPayload } from 'oidc-provider';
import { digestBearerValue } from '../common/index.ts';

/**
 * How oidc-provider's rows are kept at rest (issue 9 §5): a stolen database dump, backup or WAL
 * must not hold a single value that works at /token, /me or as a cookie.
 *
 * Every kind is keyed by a digest of its id except `Grant`: a grant id is never presented by
 * anyone (no endpoint accepts it), and the same value is stored in clear in every token row's
 * `grant_id` column, which revocation looks rows up by, so digesting the Grant row's own key would
 * hide nothing. Codes, refresh tokens, opaque access tokens (userinfo-only logins), session
 * cookies, interaction uids, and every other kind are bearer values or may become so. Device-flow
 * user codes stay as they are: the device flow is not enabled, and a code a person types has too
 * little entropy for an unsalted digest to hide it.
 *
 * oidc-provider also copies the id into the payload (`jti`) and, for interactions, into the
 * resume URL (`returnTo`) and the session cookie into `session.cookie`; those are removed before
 * writing and the ones oidc-provider needs are rebuilt on read from the value being looked up.
 */
export function storageKey(kind: string, id: string): string {
  return kind === 'Grant' ? id : digestBearerValue(id);
}

/** The payload as it is written: without any copy of the raw id or the session cookie. */
export function payloadAtRest(kind: string, id: string, payload: AdapterPayload): Record<string, unknown> {
  const { jti: _jti, ...rest } = payload as Record<string, unknown>;
  if (kind !== 'Interaction') return rest;
  const session = rest.session as Record<string, unknown> | undefined;
  if (session && typeof session === 'object' && 'cookie' in session) {
    // Nothing in oidc-provider reads `session.cookie` back; it is the raw session cookie.
    const { cookie: _cookie, ...kept } = session;
    rest.session = kept;
  }
  // returnTo is `${issuer}/auth/${uid}`: store the prefix only (it ends with "/", which no real
  // resume URL does) and append the uid on read.
  if (typeof rest.returnTo === 'string' && rest.returnTo.endsWith(`/${id}`)) {
    rest.returnTo = rest.returnTo.slice(0, -id.length);
  }
  return rest;
}

/**
 * The payload oidc-provider gets back. `id` is the raw value the caller presented, when the
 * lookup was by id; lookups by session uid (read-only checks in oidc-provider) or by user code
 * (device flow, not enabled) cannot know it, so their payload carries no `jti`.
 */
export function payloadFromRest(
  kind: string,
  id: string | undefined,
  stored: { payload: Record<string, unknown>; consumed: boolean },
): AdapterPayload {
  const payload: Record<string, unknown> = { ...stored.payload };
  if (id !== undefined) {
    payload.jti = id;
    if (kind === 'Interaction' && typeof payload.returnTo === 'string' && payload.returnTo.endsWith('/')) {
      payload.returnTo = `${payload.returnTo}${id}`;
    }
  }
  // oidc-provider only tests `consumed` for truthiness (code and refresh-token reuse detection).
  if (stored.consumed) payload.consumed = true;
  return payload as AdapterPayload;
}
