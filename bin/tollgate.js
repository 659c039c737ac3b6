#!/usr/bin/env node
// The `tollgate` command. Plain JavaScript, so that any Node can start it: the CLI itself is
// TypeScript, which Node runs as is from 22.18 (type stripping). On an older Node (a system's
// Node 20, say) this re-runs itself with the project's own Node, the `node` devDependency,
// passing arguments, stdio, signals and the exit status through.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Node's compile cache, on before the first TypeScript file loads: otherwise every call loads
 * the type stripper for src/cli/main.ts, about half of a short command's time. The same place
 * and the same rule as the server's (src/common/cache-dir.ts, which cannot be imported before
 * the cache is on): CACHE_DIR/v8, used only if no other user could have written it.
 */
function enableTrustedCompileCache() {
  const cacheDir = process.env.CACHE_DIR
    ? resolve(process.env.CACHE_DIR)
    : join(root, 'node_modules', '.cache', 'tollgate');
  const dir = join(cacheDir, 'v8');
  const uid = process.getuid?.();
  const trusted = (path, follow) => {
    if (uid === undefined) return true;
    try {
      const stat = follow ? statSync(path) : lstatSync(path);
      return (stat.uid === uid || stat.uid === 0) && (stat.mode & 0o022) === 0 && !stat.isSymbolicLink();
    } catch {
      return false;
    }
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    return;
  }
  if (trusted(cacheDir, true) && trusted(dir, false)) module.enableCompileCache(dir);
}

if (process.features.typescript) {
  enableTrustedCompileCache();
  await import('../src/cli/main.ts');
} else {
  const node = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(node)) {
    process.stderr.write(
      `tollgate: needs Node 22.18 or later (this is ${process.version}), or the project's own Node (npm install)\n`,
    );
    process.exit(2);
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (signal) => child.kill(signal);
  for (const signal of signals) process.on(signal, forward);
  child.on('error', (error) => {
    process.stderr.write(`tollgate: cannot run ${node}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.off(s, forward);
    // Dying of the same signal tells the caller's shell what happened (exit status 128 + n).
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
