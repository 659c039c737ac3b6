export { AUDIT_SEGMENT_DIR, type Config, loadConfig } from './load.ts';
