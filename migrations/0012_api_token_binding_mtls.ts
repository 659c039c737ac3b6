import { type Kysely, sql } from 'kysely';

// Issue 13: an API may also accept only certificate-bound access tokens (RFC 8705). Never edit once landed.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('apis').dropConstraint('apis_token_binding_check').execute();
  await db.schema
    .alterTable('apis')
    .addCheckConstraint('apis_token_binding_check', sql`token_binding in ('none', 'dpop', 'mtls')`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('apis').dropConstraint('apis_token_binding_check').execute();
  await db.schema
    .alterTable('apis')
    .addCheckConstraint('apis_token_binding_check', sql`token_binding in ('none', 'dpop')`)
    .execute();
}
