import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../schema/index.ts';

/** The table the service may only append to and read: its trigger and these grants keep it so. */
export const AUDIT_TABLE = 'audit_events';
/** Kysely's bookkeeping: the service reads it to know whether the schema is current, nothing more. */
export const MIGRATION_TABLES: readonly string[] = ['kysely_migration', 'kysely_migration_lock'];

/** The schema holding Tollgate's tables and what is in it. */
export interface TollgateSchema {
  schema: string;
  tables: string[];
  sequences: string[];
}

/** What the service role gets on each object; applied as a whole by `grantService`. */
export interface ServiceGrants {
  role: string;
  schema: string;
  /** SELECT, INSERT, UPDATE, DELETE. */
  readWrite: string[];
  /** SELECT, INSERT. */
  appendOnly: string[];
  /** SELECT. */
  readOnly: string[];
  /** USAGE, SELECT (nextval for serial columns). */
  sequences: string[];
}

export interface RoleStanding {
  exists: boolean;
  superuser: boolean;
  /**
   * Tables of the schema the role owns, or may act as the owner of through membership, and
   * `schema <name>` when it owns the schema itself (whose owner may drop any table in it; on
   * PostgreSQL 15 and later, public belongs to the database's owner).
   */
  owns: string[];
}

export interface AuditTableAbilities {
  role: string;
  superuser: boolean;
  /** Owns the table or its schema, or is a member of the role that does. */
  owner: boolean;
  /** Of UPDATE, DELETE, TRUNCATE, those the role holds. */
  privileges: string[];
}

/**
 * Roles and privileges. Identifiers (role, schema, table names) go through `sql.id`, never
 * into the text of a statement.
 */
export function roleQueries(db: Kysely<Database>) {
  return {
    async currentUser(): Promise<string> {
      const { rows } = await sql<{ name: string }>`select current_user as name`.execute(db);
      return rows[0]!.name;
    },

    /**
     * The schema Kysely's migration table resolves to (through search_path, as the migrator
     * finds it), with its tables and sequences; undefined before the first migration.
     */
    async tollgateSchema(): Promise<TollgateSchema | undefined> {
      const { rows } = await sql<{ schema: string; name: string; kind: string }>`
        select n.nspname as schema, c.relname as name, c.relkind as kind
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relnamespace = (select relnamespace from pg_class where oid = to_regclass('kysely_migration'))
          and c.relkind in ('r', 'p', 'S')
        order by c.relname`.execute(db);
      if (rows.length === 0) return undefined;
      return {
        schema: rows[0]!.schema,
        tables: rows.filter((r) => r.kind !== 'S').map((r) => r.name),
        sequences: rows.filter((r) => r.kind === 'S').map((r) => r.name),
      };
    },

    async standing(role: string, schema: string): Promise<RoleStanding> {
      const { rows: found } = await sql<{ superuser: boolean }>`
        select rolsuper as superuser from pg_roles where rolname = ${role}`.execute(db);
      if (found.length === 0) return { exists: false, superuser: false, owns: [] };
      // Membership in the owner's role is as good as ownership: SET ROLE, then ALTER TABLE.
      const { rows: owned } = await sql<{ name: string }>`
        select 'schema ' || n.nspname as name from pg_namespace n
        where n.nspname = ${schema} and pg_has_role(${role}, n.nspowner, 'MEMBER')
        union all
        (select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = ${schema} and c.relkind in ('r', 'p')
           and pg_has_role(${role}, c.relowner, 'MEMBER')
         order by c.relname)`.execute(db);
      return { exists: true, superuser: found[0]!.superuser, owns: owned.map((r) => r.name) };
    },

    /**
     * The role's privileges on the schema and on each of its tables and sequences, as granted
     * (aclexplode), so two snapshots tell whether a grant changed anything.
     */
    async privileges(role: string, schema: string): Promise<Record<string, string[]>> {
      const { rows } = await sql<{ name: string; privileges: string[] | null }>`
        select c.relname as name,
          array(select a.privilege_type from aclexplode(c.relacl) a
                where a.grantee = (select oid from pg_roles where rolname = ${role}) order by 1) as privileges
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = ${schema} and c.relkind in ('r', 'p', 'S')
        union all
        select '(schema)',
          array(select a.privilege_type from aclexplode(n.nspacl) a
                where a.grantee = (select oid from pg_roles where rolname = ${role}) order by 1)
        from pg_namespace n where n.nspname = ${schema}`.execute(db);
      return Object.fromEntries(rows.map((r) => [r.name, r.privileges ?? []]));
    },

    /**
     * Revokes everything the role holds on each object, then grants exactly `grants`, in one
     * transaction: a service running meanwhile never sees its privileges missing.
     */
    async grantService(grants: ServiceGrants): Promise<void> {
      const role = sql.id(grants.role);
      const tables = (names: string[]) => sql.join(names.map((name) => sql.id(grants.schema, name)));
      await db.transaction().execute(async (trx) => {
        await sql`revoke all on schema ${sql.id(grants.schema)} from ${role}`.execute(trx);
        await sql`grant usage on schema ${sql.id(grants.schema)} to ${role}`.execute(trx);
        const sets: Array<[string[], RawBuilder<unknown>]> = [
          [grants.readWrite, sql`select, insert, update, delete`],
          [grants.appendOnly, sql`select, insert`],
          [grants.readOnly, sql`select`],
        ];
        for (const [names, privileges] of sets) {
          if (names.length === 0) continue;
          await sql`revoke all on table ${tables(names)} from ${role}`.execute(trx);
          await sql`grant ${privileges} on table ${tables(names)} to ${role}`.execute(trx);
        }
        if (grants.sequences.length > 0) {
          await sql`revoke all on sequence ${tables(grants.sequences)} from ${role}`.execute(trx);
          await sql`grant usage, select on sequence ${tables(grants.sequences)} to ${role}`.execute(trx);
        }
      });
    },

    /**
     * What this connection's role may do to the audit table: a superuser disables triggers
     * (or sets session_replication_role), its owner or a member of the owner's role drops or
     * disables the trigger, the schema's owner drops the table and creates another in its
     * place; UPDATE, DELETE and TRUNCATE are the privileges that rewrite rows.
     * Undefined when the table does not exist.
     */
    async auditTableAbilities(): Promise<AuditTableAbilities | undefined> {
      const { rows } = await sql<AuditTableAbilities>`
        select current_user as role, r.rolsuper as superuser,
          pg_has_role(current_user, c.relowner, 'MEMBER')
            or pg_has_role(current_user, n.nspowner, 'MEMBER') as owner,
          array_remove(array[
            case when has_table_privilege(c.oid, 'UPDATE') then 'UPDATE' end,
            case when has_table_privilege(c.oid, 'DELETE') then 'DELETE' end,
            case when has_table_privilege(c.oid, 'TRUNCATE') then 'TRUNCATE' end
          ], null) as privileges
        from pg_class c join pg_namespace n on n.oid = c.relnamespace, pg_roles r
        where c.oid = to_regclass(${AUDIT_TABLE}) and r.rolname = current_user`.execute(db);
      return rows[0];
    },
  };
}
