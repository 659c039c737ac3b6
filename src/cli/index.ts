export { type CliIo, runCli } from './run.ts';
