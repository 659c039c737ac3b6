/**
 * Entry point of the `tollgate` command (bin/tollgate.js imports it). It runs on import: the
 * bin shim imports this module, so `import.meta.main` would be false here.
 */
import { runCli } from './run.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: () => process.stdin,
  env: process.env,
});
