import { preparePgliteTemplate, TEST_DATABASE_URL } from './helpers/database.ts';

/** Builds the PGlite template once, before test files start in parallel. */
export async function globalSetup(): Promise<void> {
  if (!TEST_DATABASE_URL) await preparePgliteTemplate();
}
