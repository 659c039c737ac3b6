import type { Kysely } from 'kysely';

// Issue 10: the audit chain is keyed. Never edit once landed.
export async function up(db: Kysely<unknown>): Promise<void> {
  // Which audit key MACs the row (a digest of the key, never the key). Rows written before this
  // migration keep NULL: they were linked with plain SHA-256, and the first keyed row after them
  // covers their last hash, so they cannot be rewritten without breaking that row's MAC.
  await db.schema.alterTable('audit_events').addColumn('key_id', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('audit_events').dropColumn('key_id').execute();
}
