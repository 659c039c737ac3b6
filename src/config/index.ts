export { type Config, loadConfig } from './load.ts';
