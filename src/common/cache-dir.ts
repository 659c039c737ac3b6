import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { constants, enableCompileCache } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * What Tollgate can rebuild (the embedded database's template, Node's compile cache) lives in
 * CACHE_DIR, by default in the install's node_modules (README "Configuration").
 */
export const DEFAULT_CACHE_DIR = join(root, 'node_modules', '.cache', 'tollgate');

/**
 * Whether only this user (or root) could have written `path`: what is in a cache is run (the
 * compile cache) or copied into every new database (the template: one planted by another local
 * user, say in a CACHE_DIR under /tmp, could carry rows such as a client of theirs), so a path
 * others could write is never trusted. `follow`: the path may be a symbolic link the operator
 * made (CACHE_DIR itself); what is inside may not.
 */
export function trustedPath(path: string, follow = false): boolean {
  const uid = process.getuid?.();
  if (uid === undefined) return true; // no POSIX owners (Windows)
  try {
    const stat = follow ? statSync(path) : lstatSync(path);
    return (stat.uid === uid || stat.uid === 0) && (stat.mode & 0o022) === 0 && !stat.isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Turns on Node's compile cache in CACHE_DIR/v8 before the service's modules load: a restart
 * then reuses their compiled code and stripped TypeScript instead of redoing it (about a fifth
 * of a restart's CPU, bench/startup.ts). Node checks each entry against its source's hash. Not
 * Node's default under the shared temp directory: a cache others can write is code they can
 * run, so the directory must be owner-only, or the cache stays off. Never fails the start.
 */
export function enableInstallCompileCache(env: NodeJS.ProcessEnv = process.env): boolean {
  const cacheDir = env.CACHE_DIR ? resolve(env.CACHE_DIR) : DEFAULT_CACHE_DIR;
  const dir = join(cacheDir, 'v8');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return false;
  }
  if (!trustedPath(cacheDir, true) || !trustedPath(dir)) return false;
  const { status } = enableCompileCache(dir);
  const { ENABLED, ALREADY_ENABLED } = constants.compileCacheStatus;
  return status === ENABLED || status === ALREADY_ENABLED;
}
