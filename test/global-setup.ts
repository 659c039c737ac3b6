import { join, resolve } from 'node:path';
import { prepareTemplate } from '../src/db/index.ts';
import { preparePgliteTemplate, TEST_DATABASE_URL } from './helpers/database.ts';

/**
 * Builds the PGlite templates once, before test files start in parallel: the test databases'
 * (helpers/database.ts), and the server's (CACHE_DIR, which every Tollgate a test starts on a new
 * DATA_DIR copies). The server's lives under .tollgate-test rather than in node_modules.
 */
export async function globalSetup(): Promise<void> {
  process.env.CACHE_DIR ??= join(resolve(import.meta.dirname, '..'), '.tollgate-test', 'cache');
  await prepareTemplate(process.env.CACHE_DIR);
  if (!TEST_DATABASE_URL) await preparePgliteTemplate();
}
