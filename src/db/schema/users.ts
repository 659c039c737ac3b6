import type { ColumnType, Generated } from 'kysely';

/** End users who log in through the browser; password_hash is argon2id (PHC string). */
export interface UsersTable {
  id: string;
  username: string;
  password_hash: string;
  roles: ColumnType<string[], string | undefined, string>;
  attributes: ColumnType<Record<string, string>, string | undefined, string>;
  disabled: Generated<boolean>;
  /** Access tokens issued before this instant are refused (set on disable; issue 9). */
  tokens_valid_after: Date | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
