import { type Kysely, sql } from 'kysely';

// Versioned policy sets for the decision point. Never edit once landed.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('policy_versions')
    .addColumn('version', 'serial', (c) => c.primaryKey())
    .addColumn('files', 'jsonb', (c) => c.notNull())
    .addColumn('resources', 'jsonb', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('revoked_tokens_revoked_at_idx')
    .on('revoked_tokens')
    .column('revoked_at')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('revoked_tokens_revoked_at_idx').execute();
  await db.schema.dropTable('policy_versions').execute();
}
