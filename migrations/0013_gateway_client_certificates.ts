import type { Kysely } from 'kysely';

// Issue 13: forward-auth believes a client-certificate header only from gateways that terminate
// mutual TLS themselves, as each says when created. Never edit once landed.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('gateways')
    .addColumn('client_certificates', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('gateways').dropColumn('client_certificates').execute();
}
