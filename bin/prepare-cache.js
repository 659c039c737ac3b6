#!/usr/bin/env node
// Run by `npm install` (postinstall) and by the container build: makes the embedded database's
// template in CACHE_DIR (default node_modules/.cache/tollgate), so that a new DATA_DIR is a copy
// instead of an initdb. It never fails an install: without it the first start runs initdb.
import { resolve } from 'node:path';

try {
  const { prepareTemplate } = await import('../src/db/index.ts');
  const cacheDir = process.env.CACHE_DIR ? resolve(process.env.CACHE_DIR) : undefined;
  const started = performance.now();
  const dir = await prepareTemplate(cacheDir);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`tollgate: embedded database template ready in ${dir} (${seconds} s)\n`);
} catch (error) {
  const reason = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `tollgate: no embedded database template (${reason}); the first start will run initdb\n`,
  );
}
