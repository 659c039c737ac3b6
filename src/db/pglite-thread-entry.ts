/**
 * The embedded database thread's entry: a worker is a Node.js instance of its own, so the compile
 * cache that src/main.ts turns on does not reach it. Turned on here first, PGlite's modules and
 * the audit writer's (attached later) load from the cache on a restart, as the main thread's do.
 */
import { enableInstallCompileCache } from '../common/cache-dir.ts';

enableInstallCompileCache();
await import('./pglite-thread.ts');
