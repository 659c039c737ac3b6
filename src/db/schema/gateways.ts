import type { Generated } from 'kysely';

/** API gateways allowed to ask /decide/forward; the key is stored only as a digest. */
export interface GatewaysTable {
  id: string;
  name: string;
  key_digest: string;
  /** It terminates mutual TLS and passes the client's certificate (MTLS_CERTIFICATE_HEADER). */
  client_certificates: Generated<boolean>;
  created_at: Generated<Date>;
}
