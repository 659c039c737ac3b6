import { type Kysely, sql } from 'kysely';

// Issue 9: users that are deleted or disabled lose their tokens. Never edit once landed.
export async function up(db: Kysely<unknown>): Promise<void> {
  // Access tokens issued before this instant are refused (set when a user is disabled), so
  // enabling the user again does not bring back tokens handed out before the disable.
  await db.schema.alterTable('users').addColumn('tokens_valid_after', 'timestamptz').execute();

  // One row per delete, disable or enable: instances that missed the NOTIFY (or run without
  // one) find the change here by polling and drop the user from their cache.
  await db.schema
    .createTable('user_changes')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('changed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('user_changes_changed_at_idx')
    .on('user_changes')
    .column('changed_at')
    .execute();

  // Revoking every grant, session and token of a user looks them up by account id.
  await db.schema
    .createIndex('oidc_payloads_account_id_idx')
    .on('oidc_payloads')
    .expression(sql`(payload->>'accountId')`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('oidc_payloads_account_id_idx').execute();
  await db.schema.dropTable('user_changes').execute();
  await db.schema.alterTable('users').dropColumn('tokens_valid_after').execute();
}
