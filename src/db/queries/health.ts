import { type QueryExecutorProvider, sql } from 'kysely';

/** The cheapest round trip that proves a connection answers (readiness, /readyz). */
export async function pingDatabase(db: QueryExecutorProvider): Promise<void> {
  await sql`select 1`.execute(db);
}
