import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { type DatabaseHandle, type SigningKeyRow, signingKeyQueries } from '../db/index.ts';
import {
  isUnbound,
  type KeyBinding,
  openJwk,
  SealedKeyRefused,
  sealJwk,
  WrongKeyEncryptionKey,
} from './seal.ts';

/** A row whose private key could not be trusted, and why (for the log). */
export interface RefusedKey {
  kid: string;
  reason: string;
}

/** A row's key pair, imported once when the row is opened, so that no token imports a key. */
export interface OpenedKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

interface Opened extends OpenedKey {
  /** The row content the key was opened from: a changed row is opened (and checked) again. */
  source: string;
}

function importPair(jwk: JWK): OpenedKey {
  const privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

function bindingOf(row: SigningKeyRow): KeyBinding {
  return { kid: row.kid, alg: row.alg, publicJwk: row.public_jwk as JWK };
}

function sourceOf(row: SigningKeyRow): string {
  return JSON.stringify([row.kid, row.alg, row.public_jwk, row.private_jwk_encrypted]);
}

/**
 * Opens the private keys of signing-key rows, keeping those whose row matches what was sealed
 * (issue 9) and refusing the others. Opened keys are cached per row content, so an unchanged row
 * is decrypted once. Refusing a row never stops the others from loading; only a KEK that opens
 * none of the rows is a configuration error, and throws.
 */
export class StoredKeys {
  readonly #kek: Buffer;
  readonly #opened = new Map<string, Opened>();
  readonly #refused = new Map<string, string>();

  constructor(kek: Buffer) {
    this.#kek = kek;
  }

  /** The usable rows and their private keys, plus rows refused since the last call. */
  async open(rows: SigningKeyRow[]): Promise<{ usable: SigningKeyRow[]; newlyRefused: RefusedKey[] }> {
    const usable: SigningKeyRow[] = [];
    const newlyRefused: RefusedKey[] = [];
    let undecryptable: WrongKeyEncryptionKey | undefined;
    for (const row of rows) {
      const source = sourceOf(row);
      if (this.#opened.get(row.kid)?.source === source) {
        usable.push(row);
        continue;
      }
      this.#opened.delete(row.kid);
      try {
        const jwk = await openJwk(row.private_jwk_encrypted, this.#kek, bindingOf(row));
        this.#opened.set(row.kid, { source, ...importPair(jwk) });
        this.#refused.delete(row.kid);
        usable.push(row);
      } catch (error) {
        if (!(error instanceof SealedKeyRefused || error instanceof WrongKeyEncryptionKey)) throw error;
        if (error instanceof WrongKeyEncryptionKey) undecryptable = error;
        // Reported once per row content, not on every refresh.
        if (this.#refused.get(row.kid) !== source) newlyRefused.push({ kid: row.kid, reason: error.message });
        this.#refused.set(row.kid, source);
      }
    }
    // Not one row opens: the KEK is wrong, and starting would mean signing with nothing.
    if (undecryptable && usable.length === 0) {
      this.#refused.clear();
      throw undecryptable;
    }
    return { usable, newlyRefused };
  }

  /** The key pair of a row returned as usable by the last open(). */
  pair(kid: string): OpenedKey | undefined {
    const opened = this.#opened.get(kid);
    return opened && { privateKey: opened.privateKey, publicKey: opened.publicKey };
  }
}

/**
 * Re-seals keys stored before issue 9 with their binding, once, so that from then on unbound
 * rows can be refused. Only a key that matches its row (its public half is the row's public key,
 * whose thumbprint is the kid) is re-sealed; any other stays unbound and is refused at load.
 * Runs inside the caller's transaction, under the start-up advisory lock.
 */
export async function resealUnboundKeys(db: DatabaseHandle['db'], kek: Buffer): Promise<string[]> {
  const resealed: string[] = [];
  for (const row of await signingKeyQueries(db).list()) {
    if (!isUnbound(row.private_jwk_encrypted)) continue;
    let jwk: JWK;
    try {
      jwk = await openJwk(row.private_jwk_encrypted, kek, bindingOf(row), { legacy: true });
    } catch (error) {
      if (error instanceof SealedKeyRefused || error instanceof WrongKeyEncryptionKey) continue;
      throw error;
    }
    const sealed = await sealJwk(jwk, kek, bindingOf(row));
    if (await signingKeyQueries(db).replaceSealed(row.kid, row.private_jwk_encrypted, sealed))
      resealed.push(row.kid);
  }
  return resealed;
}
