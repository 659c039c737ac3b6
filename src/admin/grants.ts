import { TollgateError } from '../common/index.ts';
import type { apiQueries } from '../db/index.ts';
import type { GrantInput } from './schemas.ts';

export interface ResolvedGrant {
  api: string;
  scopes: string[];
  introspect: boolean;
}

/**
 * Turns a client's requested grants into checked ones (issue 9): every API exists, every scope
 * exists on the API it is granted for, each API once. `api` + `scope` is shorthand for one grant;
 * a scope named without an API is an error, except `aside` (the OIDC scopes of a browser client),
 * which belong to no API. Errors name the field, as the admin API's contract says.
 */
export async function resolveGrants(
  apis: ReturnType<typeof apiQueries>,
  input: { api?: string | undefined; scope: string[]; grants?: GrantInput[] | undefined },
  aside: readonly string[],
  /** Field names of a single grant body (`api`, `scopes`) instead of `grants[i].…`. */
  single = false,
): Promise<ResolvedGrant[]> {
  const apiScopes = input.scope.filter((s) => !aside.includes(s));
  const fields = (i: number) =>
    single
      ? { api: 'api', scopes: 'scopes' }
      : input.grants
        ? { api: `grants[${i}].api`, scopes: `grants[${i}].scopes` }
        : { api: 'api', scopes: 'scope' };
  let wanted: GrantInput[];
  if (input.grants) {
    if (apiScopes.length > 0)
      throw new TollgateError(
        'invalid_request',
        `scope: ${apiScopes.join(' ')} names no API; with grants, put each API's scopes in its grant`,
      );
    wanted = input.grants;
  } else if (input.api !== undefined) {
    wanted = [{ api: input.api, scopes: apiScopes, introspect: false }];
  } else {
    if (apiScopes.length > 0)
      throw new TollgateError(
        'invalid_request',
        `scope: ${apiScopes.join(' ')} names no API; scopes are granted per API, so name it with api (--api)`,
      );
    wanted = [];
  }

  const resolved: ResolvedGrant[] = [];
  for (const [i, grant] of wanted.entries()) {
    const field = fields(i);
    if (resolved.some((g) => g.api === grant.api))
      throw new TollgateError('invalid_request', `${field.api}: ${grant.api} is granted twice`);
    const api = await apis.findByAudience(grant.api);
    if (!api)
      throw new TollgateError(
        'invalid_request',
        `${field.api}: no API with audience ${grant.api}; create it first`,
      );
    const scopes = [...new Set(grant.scopes.filter((s) => !aside.includes(s)))];
    const unknown = scopes.filter((s) => !api.scopes.includes(s));
    if (unknown.length > 0)
      throw new TollgateError(
        'invalid_request',
        `${field.scopes}: ${unknown.join(', ')} is not a scope of API ${grant.api} (its scopes: ${api.scopes.join(' ')})`,
      );
    resolved.push({ api: api.audience, scopes, introspect: grant.introspect });
  }
  return resolved;
}
