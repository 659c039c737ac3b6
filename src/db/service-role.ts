import type { Kysely } from 'kysely';
import type { DatabaseHandle } from './connect.ts';
import {
  AUDIT_TABLE,
  type AuditTableAbilities,
  MIGRATION_TABLES,
  roleQueries,
  type ServiceGrants,
} from './queries/roles.ts';
import type { Database } from './schema/index.ts';

/**
 * The service role cannot be given what it needs without also holding what it must not: the
 * operator has to change the role (exit 2 in `tollgate migrate`).
 */
export class ServiceRoleRefusedError extends Error {
  override name = 'ServiceRoleRefusedError';
}

export interface ServiceRoleReport extends ServiceGrants {
  /** Objects whose privileges for the role differ from before (`(schema)` for the schema). */
  changed: string[];
}

/** The user a postgres:// URL names, URL-decoded; undefined when it names none. */
export function userOf(url: string): string | undefined {
  const username = URL.parse(url)?.username;
  return username ? decodeURIComponent(username) : undefined;
}

/**
 * Gives `role` exactly what the running service needs on Tollgate's schema, as the connection
 * `db` (the tables' owner, after migrating): full DML on every table except the audit log
 * (SELECT and INSERT only: the append-only trigger then cannot be bypassed by the service) and
 * Kysely's migration tables (SELECT only). Everything else the role held on them is revoked.
 * Run after every migration, so tables added later are covered. Undefined when `role` is the
 * connection's own role (development: one role owns and serves).
 */
export async function grantServiceRole(
  db: Kysely<Database>,
  role: string,
): Promise<ServiceRoleReport | undefined> {
  const queries = roleQueries(db);
  const owner = await queries.currentUser();
  if (role === owner) return undefined;
  const found = await queries.tollgateSchema();
  if (!found) throw new Error('the schema has no kysely_migration table: migrate first');
  const { schema, tables, sequences } = found;
  const standing = await queries.standing(role, schema);
  const hint = 'the service must connect (DATABASE_URL) as a role of its own';
  if (!standing.exists) {
    throw new ServiceRoleRefusedError(
      `the service role ${role} (the user of DATABASE_URL) does not exist: create it first (CREATE ROLE ... LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; deploy/postgres/init-roles.sh does it)`,
    );
  }
  if (standing.superuser) {
    throw new ServiceRoleRefusedError(
      `the service role ${role} (the user of DATABASE_URL) is a superuser: it could disable the audit log's append-only trigger, so no grant would protect it. ${hint}: ALTER ROLE ${role} NOSUPERUSER, or create one (deploy/postgres/init-roles.sh)`,
    );
  }
  if (standing.owns.length > 0) {
    throw new ServiceRoleRefusedError(
      `the service role ${role} (the user of DATABASE_URL) owns, or is a member of the owner of, ${standing.owns.join(', ')}: an owner can drop the audit log's append-only trigger, or the table itself, so no grant would protect it. ${hint}, owning nothing (neither the tables, nor their schema, nor the database): as a superuser, REASSIGN OWNED BY ${role} TO ${owner} (or revoke its membership in the owner's role), and keep MIGRATION_DATABASE_URL for the owner`,
    );
  }
  const special = new Set([AUDIT_TABLE, ...MIGRATION_TABLES]);
  const grants: ServiceGrants = {
    role,
    schema,
    readWrite: tables.filter((table) => !special.has(table)),
    appendOnly: tables.filter((table) => table === AUDIT_TABLE),
    readOnly: tables.filter((table) => MIGRATION_TABLES.includes(table)),
    sequences,
  };
  const before = await queries.privileges(role, schema);
  await queries.grantService(grants);
  const after = await queries.privileges(role, schema);
  const changed = Object.keys(after)
    .filter((name) => (before[name] ?? []).join(',') !== (after[name] ?? []).join(','))
    .sort();
  return { ...grants, changed };
}

export interface AuditExposure {
  /** What the role can do, for the log line's fields. */
  detail: AuditTableAbilities;
  message: string;
}

/**
 * Whether the service's own database role could rewrite audit history (PostgreSQL only: the
 * embedded database has a single, all-powerful user and no other process). Undefined when not.
 */
export async function auditExposure(handle: DatabaseHandle): Promise<AuditExposure | undefined> {
  if (handle.kind !== 'postgres') return undefined;
  const found = await roleQueries(handle.db).auditTableAbilities();
  if (!found || !(found.superuser || found.owner || found.privileges.length > 0)) return undefined;
  const can = [
    found.superuser && 'is a superuser',
    found.owner && `owns ${AUDIT_TABLE} or its schema (or is a member of the owner)`,
    found.privileges.length > 0 && `holds ${found.privileges.join(', ')} on ${AUDIT_TABLE}`,
  ].filter(Boolean);
  return {
    detail: found,
    message: `the database role ${found.role} could rewrite audit history: it ${can.join(', ')}. Connect DATABASE_URL as a role with only SELECT and INSERT on ${AUDIT_TABLE}, as tollgate migrate grants with MIGRATION_DATABASE_URL set to the owner (README, "Running in production")`,
  };
}
