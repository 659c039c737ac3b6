import type { AccessTokenVerifier } from './access-token-verifier.ts';
import { type BasicClientDeps, clientFromBasic, type FormRequest } from './basic-client.ts';
import type { ClientGrants } from './client-grants.ts';
import { audiencesOf, introspect, isJwt, mayIntrospect } from './structured-tokens.ts';
import type { UserDirectory } from './user-directory.ts';

export interface JwtIntrospectionDeps extends BasicClientDeps {
  verifier: AccessTokenVerifier;
  users: UserDirectory;
  grants: ClientGrants;
}

/**
 * RFC 7662 introspection of Tollgate's own JWT access tokens in its commonest form, a resource
 * server authenticating with its secret in HTTP Basic, answered without oidc-provider: there
 * the request pays for Koa's and oidc-provider's pipelines, an exception oidc-provider throws to
 * refuse JWTs, and a signature check per request (issue 14). Same rules as the full path
 * (basic-client.ts, structured-tokens.ts): the client must be registered for a secret, allowed
 * from the address and not held back by the client-auth guard, and the token must be one it may
 * introspect.
 *
 * Anything else resolves to undefined, and the request takes the full path unchanged: another
 * authentication method, a wrong or expired secret (so that failures are counted and answered
 * there, 401 or 429), an opaque token, an unexpected parameter, a lookup that failed.
 */
export function createJwtIntrospection(deps: JwtIntrospectionDeps) {
  return async function introspectJwt(request: FormRequest): Promise<object | undefined> {
    const token = soleToken(request.form);
    if (token === undefined || !isJwt(token)) return undefined;
    const client = await clientFromBasic(deps, request);
    if (!client) return undefined;
    const caller = { clientId: client.clientId, clientAuthMethod: client.method };
    return introspect(deps.verifier, deps.users, token, (payload) =>
      mayIntrospect(deps.grants, caller, {
        clientId: payload.client_id,
        audiences: audiencesOf(payload.aud),
      }),
    );
  };
}

/** `token` given once, `token_type_hint` at most once, nothing else. */
function soleToken(form: FormRequest['form']): string | undefined {
  for (const name in form) {
    if (name !== 'token' && name !== 'token_type_hint') return undefined;
    if (typeof form[name] !== 'string') return undefined;
  }
  return form.token === '' ? undefined : (form.token as string | undefined);
}
