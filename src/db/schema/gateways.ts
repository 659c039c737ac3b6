import type { Generated } from 'kysely';

/** API gateways allowed to ask /decide/forward; the key is stored only as a digest. */
export interface GatewaysTable {
  id: string;
  name: string;
  key_digest: string;
  created_at: Generated<Date>;
}
