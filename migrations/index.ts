import type { Migration } from 'kysely/migration';
import * as m0001 from './0001_token_service.ts';
import * as m0002 from './0002_policies.ts';
import * as m0003 from './0003_gateways.ts';
import * as m0004 from './0004_audit.ts';
import * as m0005 from './0005_client_grants.ts';

/** Every migration, registered explicitly and in order; names never change once landed. */
export const migrations: Record<string, Migration> = {
  '0001_token_service': m0001,
  '0002_policies': m0002,
  '0003_gateways': m0003,
  '0004_audit': m0004,
  '0005_client_grants': m0005,
};
