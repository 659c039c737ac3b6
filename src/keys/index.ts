export { DEV_KEY_FILE, type KeyEncryptionKeySource, resolveKeyEncryptionKey } from './key-encryption-key.ts';
export {
  MAX_JWT_LIFETIME_SECONDS,
  type PublishedKey,
  SIGNING_ALGS,
  type SigningAlg,
  type SigningKey,
  SigningKeyRing,
} from './key-ring.ts';
