import { type Kysely, sql } from 'kysely';
import { json } from '../json.ts';
import type { Database } from '../schema/index.ts';

export const POLICY_CHANNEL = 'tollgate_policy';

export interface PolicyVersionRow {
  version: number;
  files: { name: string; content: string }[];
  resources: string[];
  created_by: string;
  created_at: Date;
}

export function policyVersionQueries(db: Kysely<Database>) {
  return {
    /** Stores a new version and tells every instance (LISTEN/NOTIFY); returns its number. */
    async insert(entry: {
      files: { name: string; content: string }[];
      resources: string[];
      createdBy: string;
    }): Promise<number> {
      const row = await db
        .insertInto('policy_versions')
        .values({ files: json(entry.files), resources: json(entry.resources), created_by: entry.createdBy })
        .returning('version')
        .executeTakeFirstOrThrow();
      await sql`select pg_notify(${POLICY_CHANNEL}, ${String(row.version)})`.execute(db);
      return row.version;
    },
    // uses policy_versions_pkey (backward scan)
    async latestVersion(): Promise<number | undefined> {
      const row = await db
        .selectFrom('policy_versions')
        .select('version')
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row?.version;
    },
    // uses policy_versions_pkey
    get(version: number): Promise<PolicyVersionRow | undefined> {
      return db.selectFrom('policy_versions').selectAll().where('version', '=', version).executeTakeFirst();
    },
    list(limit: number): Promise<Omit<PolicyVersionRow, 'files'>[]> {
      return db
        .selectFrom('policy_versions')
        .select(['version', 'resources', 'created_by', 'created_at'])
        .orderBy('version', 'desc')
        .limit(limit)
        .execute();
    },
  };
}
