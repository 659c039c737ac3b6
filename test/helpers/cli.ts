import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs bin/tollgate.js as a real child process, as a user's shell would, with exactly the
 * Tollgate settings given: the caller's own must not leak into the tests.
 */
export function runTollgate(args: string[], env: Record<string, string>, stdin = ''): Promise<CliRun> {
  const base = { ...process.env };
  for (const name of [
    'TOLLGATE_URL',
    'TOLLGATE_CLIENT_ID',
    'TOLLGATE_CLIENT_SECRET',
    'DATABASE_URL',
    'MIGRATION_DATABASE_URL',
    'DATA_DIR',
  ]) {
    delete base[name];
  }
  const child = spawn(process.execPath, ['bin/tollgate.js', ...args], {
    cwd: root,
    env: { ...base, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.end(stdin);
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}
