import { type Kysely, sql } from 'kysely';

// Issue 9: a client's API scopes become grants, one row per (client, API), instead of one flat
// list matched by name against whatever API a request names. Never edit once landed.

// biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their time.
type AnyDb = Kysely<any>;

interface OldClient {
  client_id: string;
  metadata: Record<string, unknown>;
  default_api: string | null;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  const kdb = db as AnyDb;
  await kdb.schema
    .createTable('client_grants')
    .addColumn('client_id', 'text', (c) => c.notNull().references('clients.client_id').onDelete('cascade'))
    .addColumn('audience', 'text', (c) => c.notNull().references('apis.audience').onDelete('cascade'))
    .addColumn('scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    // RFC 7662 §4: a resource server may introspect tokens for the audiences it was granted this for.
    .addColumn('introspect', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('client_grants_pkey', ['client_id', 'audience'])
    .execute();

  // The old default API becomes the one grant, with those of the flat scopes that exist on it;
  // the rest named no API, so they were either useless or the hole this migration closes.
  const apis = new Map<string, string[]>(
    (
      (await kdb.selectFrom('apis').select(['audience', 'scopes']).execute()) as {
        audience: string;
        scopes: string[];
      }[]
    ).map((a) => [a.audience, a.scopes]),
  );
  const clients = (await kdb
    .selectFrom('clients')
    .select(['client_id', 'metadata', 'default_api'])
    .execute()) as OldClient[];
  for (const client of clients) {
    const apiScopes = client.default_api ? apis.get(client.default_api) : undefined;
    if (client.default_api && apiScopes) {
      const flat = Array.isArray(client.metadata.tollgate_scopes) ? client.metadata.tollgate_scopes : [];
      const scopes = [
        ...new Set(flat.filter((s): s is string => typeof s === 'string' && apiScopes.includes(s))),
      ];
      await kdb
        .insertInto('client_grants')
        .values({ client_id: client.client_id, audience: client.default_api, scopes: JSON.stringify(scopes) })
        .execute();
    }
  }
  await kdb.updateTable('clients').set({ metadata: sql`metadata - 'tollgate_scopes'` }).execute();
  await kdb.schema.alterTable('clients').dropColumn('default_api').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  const kdb = db as AnyDb;
  await kdb.schema
    .alterTable('clients')
    .addColumn('default_api', 'text', (c) => c.references('apis.audience').onDelete('set null'))
    .execute();
  const grants = (await kdb
    .selectFrom('client_grants')
    .select(['client_id', 'audience', 'scopes'])
    .orderBy('created_at')
    .orderBy('audience')
    .execute()) as { client_id: string; audience: string; scopes: string[] }[];
  const byClient = new Map<string, { api: string; scopes: Set<string> }>();
  for (const grant of grants) {
    const entry = byClient.get(grant.client_id) ?? { api: grant.audience, scopes: new Set<string>() };
    for (const scope of grant.scopes) entry.scopes.add(scope);
    byClient.set(grant.client_id, entry);
  }
  // The old model knew one default API and one flat list: the first grant and every granted scope.
  for (const [clientId, entry] of byClient) {
    await kdb
      .updateTable('clients')
      .set({
        default_api: entry.api,
        metadata: sql`jsonb_set(metadata, '{tollgate_scopes}', ${JSON.stringify([...entry.scopes])}::jsonb)`,
      })
      .where('client_id', '=', clientId)
      .execute();
  }
  await kdb.schema.dropTable('client_grants').execute();
}
