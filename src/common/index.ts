export { addressInRanges, addressLimitKey, canonicalAddress, isAddressRange } from './addresses.ts';
export { type Clock, epochSeconds } from './clock.ts';
export { ConfigError, type ErrorCode, TollgateError } from './errors.ts';
export { newId } from './ids.ts';
export { parseInput, parseStoredName } from './input.ts';
export {
  consumeWithin,
  type LimiterFactory,
  type LimiterSpec,
  memoryLimiters,
  type OverLimit,
  redisLimiters,
  waitSeconds,
} from './limiters.ts';
export { redactTarget } from './log-safe.ts';
export { SERVICE_NODE_FLAGS, withServiceNodeFlags } from './node-flags.ts';
export { hashPassword, verifyPassword } from './passwords.ts';
export {
  createPrivateFile,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  PrivateFileError,
  protectDataDir,
  readPrivateFile,
  restrictNewFileModes,
} from './private-files.ts';
export { assertSafeJson, DECIDE_MAX_STRING } from './safe-json.ts';
export {
  constantTimeEqual,
  digestBearerValue,
  digestSecret,
  generateSecret,
  secretMatchesDigest,
} from './secrets.ts';
export { isStorableText, UNSTORABLE_TEXT } from './text.ts';
