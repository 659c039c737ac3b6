#!/usr/bin/env node
// The `tollgate` command. Plain JavaScript, so that any Node can start it: the CLI itself is
// TypeScript, which Node runs as is from 22.18 (type stripping). On an older Node (a system's
// Node 20, say) this re-runs itself with the project's own Node, the `node` devDependency,
// passing arguments, stdio, signals and the exit status through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.features.typescript) {
  await import('../src/cli/main.ts');
} else {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
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
