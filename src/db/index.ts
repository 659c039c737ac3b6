export { type DatabaseHandle, type DatabaseTarget, openDatabase, prepareTemplate } from './connect.ts';
export { type DataDirLock, DataDirLockedError, lockDataDir } from './data-dir-lock.ts';
export type { ThreadFailureHandler } from './database-thread.ts';
export {
  type MigrateOptions,
  migrateToLatest,
  pendingMigrations,
  SchemaBehindError,
  unknownMigrations,
} from './migrator.ts';
export { ADVISORY_LOCKS, type AdvisoryLock, takeAdvisoryLock } from './queries/advisory-locks.ts';
export { type ApiRow, apiQueries, type NewApi } from './queries/apis.ts';
export {
  type AuditFilter,
  type AuditRow,
  auditEventQueries,
  type NewAuditRow,
} from './queries/audit-events.ts';
export {
  type ClientGrantRow,
  clientGrantQueries,
  GRANT_CHANNEL,
  type NewClientGrant,
} from './queries/client-grants.ts';
export { type ClientRow, clientQueries, type NewClient } from './queries/clients.ts';
export { GATEWAY_CHANNEL, type GatewayRow, gatewayQueries } from './queries/gateways.ts';
export { oidcPayloadQueries, type PayloadWrite, type StoredPayload } from './queries/oidc-payloads.ts';
export { POLICY_CHANNEL, type PolicyVersionRow, policyVersionQueries } from './queries/policy-versions.ts';
export { REVOCATION_CHANNEL, revokedTokenQueries } from './queries/revoked-tokens.ts';
export {
  AUDIT_TABLE,
  type AuditTableAbilities,
  MIGRATION_TABLES,
  type RoleStanding,
  roleQueries,
  type ServiceGrants,
  type TollgateSchema,
} from './queries/roles.ts';
export { type SigningKeyRow, signingKeyQueries } from './queries/signing-keys.ts';
export { type NewUser, USER_CHANNEL, type UserRow, userQueries } from './queries/users.ts';
export { isRefusedValue } from './refused-value.ts';
export type { Database } from './schema/index.ts';
export {
  type AuditExposure,
  auditExposure,
  grantServiceRole,
  ServiceRoleRefusedError,
  type ServiceRoleReport,
  userOf,
} from './service-role.ts';
export { DEFAULT_TEMPLATE_CACHE, findTemplate, templateKey } from './template.ts';
export type { DatabaseThreadContext } from './thread-protocol.ts';
export { isDatabaseUnavailable } from './unavailable.ts';
export { ChannelFollower, watchChannel } from './watch.ts';
