/**
 * Entry point of the `tollgate` command (bin/tollgate.js imports it). It runs on import: the
 * bin shim imports this module, so `import.meta.main` would be false here. Node's compile cache
 * goes on before the CLI loads (common/cache-dir.ts), so the rest comes in by dynamic import.
 */
import { enableInstallCompileCache } from '../common/cache-dir.ts';

enableInstallCompileCache();
// `tollgate --help | head`: a reader that has gone away is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});
const { runCli } = await import('./run.ts');
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: () => process.stdin,
  env: process.env,
});
