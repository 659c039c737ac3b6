import type { ApisTable } from './apis.ts';
import type { AuditEventsTable } from './audit-events.ts';
import type { ClientGrantsTable } from './client-grants.ts';
import type { ClientsTable } from './clients.ts';
import type { GatewayAudiencesTable } from './gateway-audiences.ts';
import type { GatewaysTable } from './gateways.ts';
import type { OidcPayloadsTable } from './oidc-payloads.ts';
import type { PolicyVersionsTable } from './policy-versions.ts';
import type { RevokedTokensTable } from './revoked-tokens.ts';
import type { SigningKeysTable } from './signing-keys.ts';
import type { UserChangesTable } from './user-changes.ts';
import type { UsersTable } from './users.ts';

export interface Database {
  oidc_payloads: OidcPayloadsTable;
  apis: ApisTable;
  clients: ClientsTable;
  client_grants: ClientGrantsTable;
  users: UsersTable;
  user_changes: UserChangesTable;
  signing_keys: SigningKeysTable;
  revoked_tokens: RevokedTokensTable;
  policy_versions: PolicyVersionsTable;
  gateways: GatewaysTable;
  gateway_audiences: GatewayAudiencesTable;
  audit_events: AuditEventsTable;
}

export type {
  ApisTable,
  AuditEventsTable,
  ClientGrantsTable,
  ClientsTable,
  GatewayAudiencesTable,
  GatewaysTable,
  OidcPayloadsTable,
  PolicyVersionsTable,
  RevokedTokensTable,
  SigningKeysTable,
  UserChangesTable,
  UsersTable,
};
