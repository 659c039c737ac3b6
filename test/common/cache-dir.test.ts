import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const MODULE = resolve(import.meta.dirname, '../../src/common/cache-dir.ts');

/** enableInstallCompileCache in a process of its own (the cache is per process, once). */
async function enableIn(cacheDir: string): Promise<{ enabled: boolean; dir?: string }> {
  const script = `
    const { enableInstallCompileCache } = await import(${JSON.stringify(MODULE)});
    const { getCompileCacheDir } = await import('node:module');
    console.log(JSON.stringify({ enabled: enableInstallCompileCache(), dir: getCompileCacheDir() }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, CACHE_DIR: cacheDir },
  });
  // JSON leaves out a dir that is undefined (the cache is off).
  return JSON.parse(stdout) as { enabled: boolean; dir?: string };
}

describe('the compile cache of the service entry', () => {
  it('goes into CACHE_DIR/v8, made owner-only', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'tollgate-cache-'));
    const { enabled, dir } = await enableIn(cacheDir);
    assert.equal(enabled, true);
    // Node keeps a directory per Node version and architecture inside it.
    assert.ok(dir?.startsWith(`${join(cacheDir, 'v8')}/`), dir);
    assert.equal(statSync(join(cacheDir, 'v8')).mode & 0o777, 0o700);
  });

  it('stays off in a cache directory other users could write (their entries would be code we run)', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'tollgate-cache-'));
    chmodSync(cacheDir, 0o777);
    assert.deepEqual(await enableIn(cacheDir), { enabled: false });
    const planted = mkdtempSync(join(tmpdir(), 'tollgate-cache-'));
    await enableIn(planted);
    chmodSync(join(planted, 'v8'), 0o777);
    assert.deepEqual(await enableIn(planted), { enabled: false });
  });
});
