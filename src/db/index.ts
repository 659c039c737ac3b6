export { type DatabaseHandle, type DatabaseTarget, openDatabase } from './connect.ts';
export { migrateToLatest } from './migrator.ts';
export { type ApiRow, apiQueries, type NewApi } from './queries/apis.ts';
export { type ClientRow, clientQueries, type NewClient } from './queries/clients.ts';
export { oidcPayloadQueries, type PayloadWrite, type StoredPayload } from './queries/oidc-payloads.ts';
export { revokedTokenQueries } from './queries/revoked-tokens.ts';
export { type SigningKeyRow, signingKeyQueries } from './queries/signing-keys.ts';
export { type NewUser, type UserRow, userQueries } from './queries/users.ts';
export type { Database } from './schema/index.ts';
