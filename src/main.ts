/**
 * The service's entry: `npm start`, `node src/main.ts`. Node's compile cache goes on before
 * anything else loads (common/cache-dir.ts), so this file imports nothing else statically;
 * the service itself is src/serve.ts, and the composition root src/compose (which tests and
 * benchmarks start directly).
 */
import { enableInstallCompileCache } from './common/cache-dir.ts';

if (import.meta.main) {
  enableInstallCompileCache();
  // The embedded database opens in its thread while the rest of the service loads.
  const { openDatabaseEarly } = await import('./compose/early-database.ts');
  const opening = openDatabaseEarly();
  const { run } = await import('./serve.ts');
  run(opening);
}
