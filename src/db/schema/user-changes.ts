import type { Generated } from 'kysely';

/** A log of user deletes, disables and enables, read by every instance to drop cached users. */
export interface UserChangesTable {
  user_id: string;
  changed_at: Generated<Date>;
}
