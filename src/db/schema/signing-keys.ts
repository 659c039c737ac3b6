import type { ColumnType, Generated } from 'kysely';

/**
 * Signing keys; the private JWK is a compact JWE (dir + A256GCM) under the key-encryption key,
 * whose protected header binds it to the row's kid, alg and public key (issue 9).
 */
export interface SigningKeysTable {
  kid: string;
  alg: 'RS256' | 'ES256';
  public_jwk: ColumnType<Record<string, unknown>, string, string>;
  private_jwk_encrypted: string;
  created_at: Generated<Date>;
  activates_at: Date;
}
