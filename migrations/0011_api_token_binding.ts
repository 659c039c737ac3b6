import { type Kysely, sql } from 'kysely';

// Issue 13: an API may accept only sender-constrained (DPoP-bound) access tokens. Never edit once landed.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('apis')
    .addColumn('token_binding', 'text', (c) =>
      c.notNull().defaultTo('none').check(sql`token_binding in ('none', 'dpop')`),
    )
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('apis').dropColumn('token_binding').execute();
}
