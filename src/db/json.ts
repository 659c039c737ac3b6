/**
 * JSONB values are bound as JSON text: `pg` would otherwise send JS arrays as PostgreSQL arrays,
 * and PGlite passes strings through unchanged, so both engines store the same value.
 */
export function json(value: unknown): string {
  return JSON.stringify(value);
}
