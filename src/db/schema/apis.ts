import type { ColumnType, Generated } from 'kysely';

/** Which sender-constrained tokens an API requires: none, or DPoP-bound (RFC 9449). */
export type TokenBinding = 'none' | 'dpop' | 'mtls';

/** A registered API (OAuth resource server): it decides audience, scopes, alg and TTL of its tokens. */
export interface ApisTable {
  id: string;
  audience: string;
  name: string;
  scopes: ColumnType<string[], string, string>;
  /** Scope name -> what it lets a client do, shown on the consent page (issue 12). */
  scope_descriptions: ColumnType<Record<string, string>, string | undefined, string>;
  signing_alg: 'RS256' | 'ES256';
  access_token_ttl: number;
  /** `dpop`: only DPoP-bound tokens (cnf.jkt) are issued for it and accepted at /decide (issue 13). */
  token_binding: ColumnType<TokenBinding, TokenBinding | undefined, TokenBinding>;
  builtin: Generated<boolean>;
  created_at: Generated<Date>;
}
