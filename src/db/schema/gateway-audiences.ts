import type { Generated } from 'kysely';

/** The APIs (audiences) a gateway protects: it accepts end-user tokens for these only (issue 9). */
export interface GatewayAudiencesTable {
  gateway_id: string;
  audience: string;
  created_at: Generated<Date>;
}
