export { addressInRanges, canonicalAddress, isAddressRange } from './addresses.ts';
export { epochSeconds } from './clock.ts';
export { ConfigError, type ErrorCode, TollgateError } from './errors.ts';
export { newId } from './ids.ts';
export {
  consumeWithin,
  type LimiterFactory,
  type LimiterSpec,
  memoryLimiters,
  type OverLimit,
  redisLimiters,
  waitSeconds,
} from './limiters.ts';
export { hashPassword, verifyPassword } from './passwords.ts';
export { constantTimeEqual, digestSecret, generateSecret, secretMatchesDigest } from './secrets.ts';
export { isStorableText, UNSTORABLE_TEXT } from './text.ts';
