import type { ColumnType, Generated } from 'kysely';

/** One accepted policy set: its YAML files exactly as pushed, immutable once written. */
export interface PolicyVersionsTable {
  version: Generated<number>;
  files: ColumnType<{ name: string; content: string }[], string, never>;
  resources: ColumnType<string[], string, never>;
  created_by: string;
  created_at: Generated<Date>;
}
