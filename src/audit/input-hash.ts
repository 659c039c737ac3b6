import { createHmac, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

/**
 * Decision inputs kept comparable without being stored (DECISION_LOG_INPUTS=hashed): every
 * scalar value (string, number, boolean) of the subject's attributes, the resource's and the
 * context becomes a keyed digest of its JSON text, so equal values stay equal (and 1 stays
 * apart from "1") while a reader of the audit table learns neither the values nor, by trying
 * the likely ones (amounts, tenant names), which is which: the key never leaves the service.
 * Attribute names, null (absent) and the shape of arrays and objects are kept, so equality
 * operators, `$in`, `$all`, `$exists` and `$size` judge digests exactly as they judge values;
 * ordering cannot survive (pdp/hashed-replay.ts says which rules that excludes).
 */
export interface InputHasher {
  /** Names the key (a MAC of a fixed label): recorded with the inputs, so that a replay under another key is refused. */
  readonly key: string;
  /** One scalar's digest. */
  scalar(value: string | number | boolean): string;
  /** `value` with every scalar inside replaced by its digest. */
  tree(value: unknown): unknown;
}

const HKDF_INFO = 'tollgate decision inputs v1';
/** Digests remembered: attribute values repeat (tenants, departments), an HMAC costs a microsecond. */
const REMEMBERED = 50_000;

/** The hasher of this deployment, its key derived from the key-encryption key with a label of its own. */
export function createInputHasher(keyEncryptionKey: Buffer): InputHasher {
  const key = createSecretKey(
    Buffer.from(hkdfSync('sha256', keyEncryptionKey, Buffer.alloc(0), HKDF_INFO, 32)),
  );
  const known = new Map<string, string>();
  const scalar = (value: string | number | boolean): string => {
    const text = JSON.stringify(value);
    let digest = known.get(text);
    if (digest === undefined) {
      digest = mac(key, text);
      if (known.size >= REMEMBERED) known.clear();
      known.set(text, digest);
    }
    return digest;
  };
  const tree = (value: unknown): unknown => {
    if (typeof value === 'string' || typeof value === 'boolean') return scalar(value);
    // NaN and the infinities are not JSON: they are stored as null by the line, so kept so.
    if (typeof value === 'number') return Number.isFinite(value) ? scalar(value) : value;
    if (Array.isArray(value)) return value.map(tree);
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const name of Object.keys(value)) out[name] = tree((value as Record<string, unknown>)[name]);
      return out;
    }
    return value;
  };
  return { key: mac(key, 'tollgate decision inputs key id').slice(0, 16), scalar, tree };
}

/** 128 bits of HMAC-SHA256, base64url: collisions are out of reach for any log. */
function mac(key: KeyObject, text: string): string {
  return createHmac('sha256', key).update(text).digest().subarray(0, 16).toString('base64url');
}
