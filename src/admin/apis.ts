import type { Kysely } from 'kysely';
import { newId, TollgateError } from '../common/index.ts';
import { apiQueries, type Database, type DatabaseHandle } from '../db/index.ts';
import type { CreateApiInput } from './schemas.ts';

/** Tollgate's own API: admin tokens and decision-point callers carry its scopes. */
export const BUILTIN_API = {
  audience: 'urn:tollgate',
  name: 'Tollgate',
  scopes: ['admin', 'decide', 'metrics'],
  alg: 'ES256',
  ttl: 300,
} as const;

export interface ApiView {
  audience: string;
  name: string;
  scopes: string[];
  alg: string;
  ttl: number;
  builtin: boolean;
}

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
        signing_alg: input.alg,
        access_token_ttl: input.ttl,
      });
      onChange(input.audience);
      return {
        audience: input.audience,
        name,
        scopes: input.scopes,
        alg: input.alg,
        ttl: input.ttl,
        builtin: false,
      };
    },
    async list(): Promise<ApiView[]> {
      return (await apis.list()).map((a) => ({
        audience: a.audience,
        name: a.name,
        scopes: a.scopes,
        alg: a.signing_alg,
        ttl: a.access_token_ttl,
        builtin: a.builtin,
      }));
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
