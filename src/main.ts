/**
 * The service's entry: `npm start`, `node src/main.ts`. Node's compile cache goes on before
 * anything else loads (common/cache-dir.ts), so this file imports nothing else statically;
 * the service itself is src/serve.ts, and the composition root src/compose (which tests and
 * benchmarks start directly).
 */
import { enableInstallCompileCache } from './common/cache-dir.ts';

if (import.meta.main) {
  enableInstallCompileCache();
  const { run } = await import('./serve.ts');
  run();
}
