import type { ColumnType, Generated } from 'kysely';

/** Signing keys; the private JWK is a compact JWE (dir + A256GCM) under the key-encryption key. */
export interface SigningKeysTable {
  kid: string;
  alg: 'RS256' | 'ES256';
  public_jwk: ColumnType<Record<string, unknown>, string, string>;
  private_jwk_encrypted: string;
  created_at: Generated<Date>;
  activates_at: Date;
}
