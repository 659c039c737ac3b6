import type { Migration } from 'kysely/migration';
import * as m0001 from './0001_token_service.ts';
import * as m0002 from './0002_policies.ts';
import * as m0003 from './0003_gateways.ts';
import * as m0004 from './0004_audit.ts';
import * as m0005 from './0005_client_grants.ts';
import * as m0006 from './0006_payload_digests.ts';
import * as m0007 from './0007_gateway_audiences.ts';
import * as m0008 from './0008_user_status.ts';
import * as m0009 from './0009_audit_key_ids.ts';
import * as m0010 from './0010_api_scope_descriptions.ts';
import * as m0011 from './0011_api_token_binding.ts';
import * as m0012 from './0012_api_token_binding_mtls.ts';
import * as m0013 from './0013_gateway_client_certificates.ts';

/** Every migration, registered explicitly and in order; names never change once landed. */
export const migrations: Record<string, Migration> = {
  '0001_token_service': m0001,
  '0002_policies': m0002,
  '0003_gateways': m0003,
  '0004_audit': m0004,
  '0005_client_grants': m0005,
  '0006_payload_digests': m0006,
  '0007_gateway_audiences': m0007,
  '0008_user_status': m0008,
  '0009_audit_key_ids': m0009,
  '0010_api_scope_descriptions': m0010,
  '0011_api_token_binding': m0011,
  '0012_api_token_binding_mtls': m0012,
  '0013_gateway_client_certificates': m0013,
};
