import { type Kysely, sql } from 'kysely';

// Issue 12: the consent page words an API's scopes as their descriptions. Never edit once landed.
export async function up(db: Kysely<unknown>): Promise<void> {
  // Scope name -> description; scopes without one are shown by name.
  await db.schema
    .alterTable('apis')
    .addColumn('scope_descriptions', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('apis').dropColumn('scope_descriptions').execute();
}
