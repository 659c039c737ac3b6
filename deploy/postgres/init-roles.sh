#!/usr/bin/env bash
# Creates Tollgate's two database roles and its database. The postgres image runs it once, from
# /docker-entrypoint-initdb.d, as POSTGRES_USER (a superuser) on a fresh data directory; it can
# also be run again by hand (it creates what is missing and resets passwords and attributes).
#
#   owner role    owns the database and every table; only `tollgate migrate` connects as it
#                 (MIGRATION_DATABASE_URL).
#   service role  what the server connects as (DATABASE_URL): no superuser, owns nothing;
#                 `tollgate migrate` grants it SELECT and INSERT only on audit_events, so it
#                 cannot disable the audit log's append-only trigger.
#
# Environment: TOLLGATE_OWNER_PASSWORD and TOLLGATE_SERVICE_PASSWORD (required);
# TOLLGATE_OWNER_ROLE, TOLLGATE_SERVICE_ROLE, TOLLGATE_DB (default tollgate_owner,
# tollgate_service, tollgate); POSTGRES_USER, POSTGRES_DB and the usual PG* variables say where
# to connect. Needs psql 15 or later (\getenv).
# No `set -u`: where the script is not executable, the image sources it into its entrypoint,
# which must not inherit that. Every variable below has a default.
set -eo pipefail

missing=()
[ -n "${TOLLGATE_OWNER_PASSWORD:-}" ] || missing+=(TOLLGATE_OWNER_PASSWORD)
[ -n "${TOLLGATE_SERVICE_PASSWORD:-}" ] || missing+=(TOLLGATE_SERVICE_PASSWORD)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "init-roles.sh: ${missing[*]} not set: set them (openssl rand -hex 32) and start again" >&2
  exit 1
fi

owner_role="${TOLLGATE_OWNER_ROLE:-tollgate_owner}"
service_role="${TOLLGATE_SERVICE_ROLE:-tollgate_service}"
database="${TOLLGATE_DB:-tollgate}"
if [ "$owner_role" = "$service_role" ]; then
  echo "init-roles.sh: TOLLGATE_OWNER_ROLE and TOLLGATE_SERVICE_ROLE must differ" >&2
  exit 1
fi

# Names go in as psql variables, quoted by psql (:"name" as an identifier, :'name' as a
# literal); passwords are read by psql itself from the environment (\getenv), so they appear
# neither on a command line nor in the text of this script. The heredoc is quoted: the shell
# substitutes nothing in the SQL.
psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v owner_role="$owner_role" -v service_role="$service_role" -v database="$database" <<'SQL'
\getenv owner_password TOLLGATE_OWNER_PASSWORD
\getenv service_password TOLLGATE_SERVICE_PASSWORD

select format('create role %I', :'owner_role')
where not exists (select from pg_roles where rolname = :'owner_role') \gexec
select format('create role %I', :'service_role')
where not exists (select from pg_roles where rolname = :'service_role') \gexec

-- The owner needs no more than owning; the service not even that.
alter role :"owner_role" with login nosuperuser nocreatedb nocreaterole noreplication nobypassrls
  password :'owner_password';
alter role :"service_role" with login nosuperuser nocreatedb nocreaterole noreplication nobypassrls
  password :'service_password';
-- A member of the owner's role could act as the owner (and drop the audit trigger).
select format('revoke %I from %I', :'owner_role', :'service_role')
where pg_has_role(:'service_role', :'owner_role', 'MEMBER') \gexec

select format('create database %I owner %I', :'database', :'owner_role')
where not exists (select from pg_database where datname = :'database') \gexec
alter database :"database" owner to :"owner_role";
-- Only the two roles connect; nobody else may create temporary tables there.
revoke all on database :"database" from public;
grant connect on database :"database" to :"service_role";

\connect :"database"
-- PostgreSQL 15 and later already refuse CREATE in public to everyone but its owner (the
-- database owner); older ones do not.
revoke create on schema public from public;
SQL

echo "init-roles.sh: roles $owner_role (owner) and $service_role (service), database $database ready"
