import { type Kysely, sql } from 'kysely';

// Issue 9: each gateway accepts only tokens for the APIs it protects. Gateways created before
// this migration get none, so they refuse every end-user token until an operator names their
// APIs (`tollgate gateway update NAME --api AUD`); every start-up warns about each of them.
// Guessing the APIs here would re-open the hole for exactly the installations that have it.
// Never edit once landed.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('gateway_audiences')
    .addColumn('gateway_id', 'text', (c) => c.notNull().references('gateways.id').onDelete('cascade'))
    .addColumn('audience', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('gateway_audiences_pkey', ['gateway_id', 'audience'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('gateway_audiences').execute();
}
