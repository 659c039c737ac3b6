import type { Kysely } from 'kysely';
import { newId, TollgateError } from '../common/index.ts';
import { type ApiRow, apiQueries, type Database, type DatabaseHandle } from '../db/index.ts';
import type { CreateApiInput } from './schemas.ts';

/** Tollgate's own API: admin tokens and decision-point callers carry its scopes. */
export const BUILTIN_API = {
  audience: 'urn:tollgate',
  name: 'Tollgate',
  scopes: ['admin', 'decide', 'decide:explain', 'metrics'],
  alg: 'ES256',
  ttl: 300,
} as const;

export interface ApiView {
  audience: string;
  name: string;
  scopes: string[];
  /** Scope name -> description, for the consent page; scopes without one are absent. */
  scope_descriptions: Record<string, string>;
  alg: string;
  ttl: number;
  /** `dpop`: only DPoP-bound tokens are issued for it and accepted (issue 13). */
  require_binding: ApiRow['token_binding'];
  builtin: boolean;
}

export type ApiUseCases = ReturnType<typeof apiUseCases>;

/** `onChange` is told of every created API, so caches in front of the table drop it. */
export function apiUseCases(db: DatabaseHandle, onChange: (audience: string) => void = () => {}) {
  const apis = apiQueries(db.db);
  return {
    async create(input: CreateApiInput): Promise<ApiView> {
      if (await apis.findByAudience(input.audience)) {
        throw new TollgateError('conflict', `audience: an API with audience ${input.audience} exists`);
      }
      const name = input.name ?? input.audience;
      await apis.insert({
        id: newId('api'),
        audience: input.audience,
        name,
        scopes: input.scopes,
        scope_descriptions: input.scope_descriptions,
        signing_alg: input.alg,
        access_token_ttl: input.ttl,
        token_binding: input.require_binding,
      });
      onChange(input.audience);
      return {
        audience: input.audience,
        name,
        scopes: input.scopes,
        scope_descriptions: input.scope_descriptions,
        alg: input.alg,
        ttl: input.ttl,
        require_binding: input.require_binding,
        builtin: false,
      };
    },
    async list(): Promise<ApiView[]> {
      return (await apis.list()).map(apiView);
    },
    async get(audience: string): Promise<ApiView | undefined> {
      const row = await apis.findByAudience(audience);
      return row && apiView(row);
    },
    /** `executor`: the caller's transaction, which serializes instances starting together. */
    async ensureBuiltin(executor: Kysely<Database> = db.db): Promise<void> {
      await apiQueries(executor).upsertBuiltin({
        id: 'api_tollgate',
        audience: BUILTIN_API.audience,
        name: BUILTIN_API.name,
        scopes: [...BUILTIN_API.scopes],
        signing_alg: BUILTIN_API.alg,
        access_token_ttl: BUILTIN_API.ttl,
      });
    },
  };
}

function apiView(row: ApiRow): ApiView {
  return {
    audience: row.audience,
    name: row.name,
    scopes: row.scopes,
    scope_descriptions: row.scope_descriptions,
    alg: row.signing_alg,
    ttl: row.access_token_ttl,
    require_binding: row.token_binding,
    builtin: row.builtin,
  };
}
