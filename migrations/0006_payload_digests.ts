import { type Kysely, type RawBuilder, sql } from 'kysely';

// Issue 9 §5: oidc-provider rows are keyed by a digest of their bearer value and carry no copy of
// it (src/oidc/stored-payloads.ts). This converts the rows already stored, in SQL, so sessions and
// refresh tokens live at the upgrade keep working. Never edit once landed.

/** digestBearerValue() of src/common/secrets.ts in SQL: base64url(SHA-256(UTF-8 bytes)), no padding. */
function digest(text: RawBuilder<unknown>): RawBuilder<string> {
  return sql<string>`rtrim(translate(encode(sha256(convert_to(${text}, 'UTF8')), 'base64'), '+/', '-_'), '=')`;
}

export async function up(db: Kysely<unknown>): Promise<void> {
  // An interaction's resume URL ends with its uid, and it may hold the session cookie.
  await sql`
    update oidc_payloads
       set payload = jsonb_set(payload, '{returnTo}', to_jsonb(left(payload->>'returnTo', -length(id))))
     where kind = 'Interaction' and right(payload->>'returnTo', length(id) + 1) = '/' || id`.execute(db);
  await sql`
    update oidc_payloads set payload = payload #- '{session,cookie}'
     where kind = 'Interaction' and payload->'session' ? 'cookie'`.execute(db);
  await sql`
    update oidc_payloads
       set payload = payload - 'jti',
           id = case when kind = 'Grant' then id else ${digest(sql`id`)} end`.execute(db);
}

// A digest cannot be turned back into the value it was made from: the down migration deletes
// every converted row (users sign in again, clients restart their code and refresh flows) and
// gives grants back the jti the older code expects.
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from oidc_payloads where kind <> 'Grant'`.execute(db);
  await sql`update oidc_payloads set payload = payload || jsonb_build_object('jti', id)`.execute(db);
}
