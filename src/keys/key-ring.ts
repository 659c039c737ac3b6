import type { KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import type { DatabaseHandle, SigningKeyRow } from '../db/index.ts';
import { signingKeyQueries, takeAdvisoryLock } from '../db/index.ts';
import { sealJwk } from './seal.ts';
import { type RefusedKey, resealUnboundKeys, StoredKeys } from './stored-keys.ts';

export type SigningAlg = 'RS256' | 'ES256';
export const SIGNING_ALGS: readonly SigningAlg[] = ['RS256', 'ES256'];

/** The longest-lived JWT we sign (access tokens max 3600 s, ID tokens 3600 s) plus clock skew. */
export const MAX_JWT_LIFETIME_SECONDS = 3600 + 60;

export interface KeyRingOptions {
  /** How long a new key is in JWKS before it signs. */
  publishSeconds: number;
  /** How often the ring re-reads the database so all instances converge. */
  refreshSeconds: number;
  now?: () => Date;
}

/**
 * A key that signs: both halves imported once, when the ring opened the row, so a token costs a
 * signature and never a key import.
 */
export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface PublishedKey {
  kid: string;
  alg: SigningAlg;
  state: 'pending' | 'active' | 'retired';
  activatesAt: Date;
  /** When it leaves JWKS; undefined while no successor is active. */
  retiresAt: Date | undefined;
}

interface KeyView {
  row: SigningKeyRow;
  state: PublishedKey['state'];
  retiresAt: Date | undefined;
}

/**
 * The signing keys every instance agrees on, read from the database. A key's state is a pure
 * function of timestamps: pending until `activates_at`, active while it is the newest activated
 * key of its alg, retired afterwards, and dropped from JWKS once every token it signed expired.
 * A row whose private key does not match it (edited or copied in the database, issue 9) is left
 * out of the ring altogether and reported once through the `refused` event.
 */
export class SigningKeyRing extends EventEmitter<{ change: []; refused: [key: RefusedKey] }> {
  readonly #db: DatabaseHandle;
  readonly #kek: Buffer;
  readonly #options: Required<KeyRingOptions>;
  readonly #stored: StoredKeys;
  #views: KeyView[] = [];
  #fingerprint = '';
  #verifyKey: JWTVerifyGetKey = createLocalJWKSet({ keys: [] });
  #timer: NodeJS.Timeout | undefined;
  #activationTimer: NodeJS.Timeout | undefined;
  #rotationTimer: NodeJS.Timeout | undefined;

  constructor(db: DatabaseHandle, kek: Buffer, options: KeyRingOptions) {
    super();
    this.#db = db;
    this.#kek = kek;
    this.#stored = new StoredKeys(kek);
    this.#options = { now: () => new Date(), ...options };
  }

  /**
   * Re-seals keys stored before issue 9 with their binding, creates a first key for every alg
   * that has no usable one (none yet, or all refused), then loads the ring. Returns the kids it
   * re-sealed.
   */
  async init(): Promise<string[]> {
    const { resealed, refused } = await this.#db.db.transaction().execute(async (trx) => {
      // Several instances may start together: only one re-seals and creates keys.
      await takeAdvisoryLock(trx, 'signingKeys');
      const resealed = await resealUnboundKeys(trx, this.#kek);
      const { usable, newlyRefused } = await this.#stored.open(await signingKeyQueries(trx).list());
      const have = new Set(usable.map((r) => r.alg));
      for (const alg of SIGNING_ALGS) {
        if (!have.has(alg)) await this.#insertKey(alg, this.#options.now(), trx);
      }
      return { resealed, refused: newlyRefused };
    });
    for (const key of refused) this.emit('refused', key);
    await this.refresh();
    return resealed;
  }

  /** Adds a new key per alg that is published now and signs after `publishSeconds`. */
  async rotate(): Promise<PublishedKey[]> {
    const activatesAt = new Date(this.#options.now().getTime() + this.#options.publishSeconds * 1000);
    const kids: string[] = [];
    for (const alg of SIGNING_ALGS) kids.push(await this.#insertKey(alg, activatesAt, this.#db.db));
    await this.refresh();
    return this.list().filter((k) => kids.includes(k.kid));
  }

  /**
   * Scheduled rotation: when the newest key of every alg has been signing for `maxAgeSeconds`,
   * adds successors exactly as rotate() does. The check and the insert happen under the same
   * advisory lock as start-up, so of several instances checking together one rotates and the
   * others then see a key that is not yet due. Returns the new keys, or undefined.
   */
  async rotateIfDue(maxAgeSeconds: number): Promise<PublishedKey[] | undefined> {
    const now = this.#options.now();
    const kids = await this.#db.db.transaction().execute(async (trx) => {
      await takeAdvisoryLock(trx, 'signingKeys');
      const newest = await signingKeyQueries(trx).newestPerAlg();
      const due =
        newest.length > 0 &&
        newest.every((key) => now.getTime() - key.activatesAt.getTime() >= maxAgeSeconds * 1000);
      if (!due) return [];
      const activatesAt = new Date(now.getTime() + this.#options.publishSeconds * 1000);
      const added: string[] = [];
      for (const alg of SIGNING_ALGS) added.push(await this.#insertKey(alg, activatesAt, trx));
      return added;
    });
    if (kids.length === 0) return undefined;
    await this.refresh();
    return this.list().filter((k) => kids.includes(k.kid));
  }

  async refresh(): Promise<void> {
    const { usable, newlyRefused } = await this.#stored.open(await signingKeyQueries(this.#db.db).list());
    for (const refused of newlyRefused) this.emit('refused', refused);
    const now = this.#options.now();
    // Refused rows take no part: they neither sign nor appear in JWKS, and they stay in the
    // table for the operator to look at.
    const views = computeStates(usable, now);
    const expired = views.filter((v) => v.retiresAt !== undefined && v.retiresAt <= now);
    await signingKeyQueries(this.#db.db).deleteKids(expired.map((v) => v.row.kid));
    const published = views.filter((v) => !expired.includes(v));
    this.#views = published;
    const fingerprint = published.map((v) => `${v.row.kid}:${v.state}`).join(',');
    if (fingerprint !== this.#fingerprint) {
      this.#fingerprint = fingerprint;
      this.#verifyKey = createLocalJWKSet({ keys: this.publicJwks() });
      this.emit('change');
    }
    this.#scheduleActivation(now);
  }

  /** Starts periodic refreshes; a failed refresh keeps the last good ring. */
  start(onError: (error: unknown) => void): void {
    this.#timer = setInterval(() => this.refresh().catch(onError), this.#options.refreshSeconds * 1000);
    this.#timer.unref();
  }

  /**
   * KEY_ROTATION_DAYS: checks on every refresh tick whether the keys are due (rotateIfDue);
   * every instance checks, the one holding the lock rotates.
   */
  startRotation(
    maxAgeSeconds: number,
    hooks: { onRotated: (keys: PublishedKey[]) => void; onError: (error: unknown) => void },
  ): () => void {
    const timer = setInterval(() => {
      this.rotateIfDue(maxAgeSeconds).then((keys) => keys && hooks.onRotated(keys), hooks.onError);
    }, this.#options.refreshSeconds * 1000);
    timer.unref();
    this.#rotationTimer = timer;
    // Stops the schedule alone, while the ring keeps serving keys (its hooks may need what
    // stops before the ring does).
    return () => clearInterval(timer);
  }

  stop(): void {
    clearInterval(this.#timer);
    clearInterval(this.#rotationTimer);
    clearTimeout(this.#activationTimer);
  }

  /** The keys for oidc-provider: active keys first, as it signs with the first match per alg. */
  signingKeys(): SigningKey[] {
    const order = { active: 0, pending: 1, retired: 2 } as const;
    return [...this.#views]
      .sort((a, b) => order[a.state] - order[b.state])
      .flatMap((v) => {
        // Every view's row was opened by the same refresh, so the pair is there.
        const pair = this.#stored.pair(v.row.kid);
        return pair ? [{ kid: v.row.kid, alg: v.row.alg, ...pair }] : [];
      });
  }

  publicJwks(): JWK[] {
    return this.#views.map((v) => ({ ...v.row.public_jwk, kid: v.row.kid, alg: v.row.alg, use: 'sig' }));
  }

  /** The key that signs new tokens of this alg. */
  activeKid(alg: SigningAlg): string {
    const view = this.#views.find((v) => v.row.alg === alg && v.state === 'active');
    if (!view) throw new Error(`no active ${alg} signing key`);
    return view.row.kid;
  }

  /** Resolves verification keys without importing a key per call (jose caches imports). */
  get verificationKey(): JWTVerifyGetKey {
    return this.#verifyKey;
  }

  list(): PublishedKey[] {
    return this.#views.map((v) => ({
      kid: v.row.kid,
      alg: v.row.alg,
      state: v.state,
      activatesAt: v.row.activates_at,
      retiresAt: v.retiresAt,
    }));
  }

  // A pending key must start signing on time even between periodic refreshes.
  #scheduleActivation(now: Date): void {
    clearTimeout(this.#activationTimer);
    const next = this.#views
      .filter((v) => v.state === 'pending')
      .map((v) => v.row.activates_at.getTime())
      .sort((a, b) => a - b)[0];
    if (next === undefined) return;
    this.#activationTimer = setTimeout(
      () => this.refresh().catch(() => {}),
      Math.max(0, next - now.getTime()) + 5,
    );
    this.#activationTimer.unref();
  }

  async #insertKey(alg: SigningAlg, activatesAt: Date, db: DatabaseHandle['db']): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    await signingKeyQueries(db).insert({
      kid,
      alg,
      public_jwk: publicJwk as Record<string, unknown>,
      private_jwk_encrypted: await sealJwk(await exportJWK(privateKey), this.#kek, { kid, alg, publicJwk }),
      activates_at: activatesAt,
    });
    return kid;
  }
}

function computeStates(rows: SigningKeyRow[], now: Date): KeyView[] {
  const views: KeyView[] = [];
  for (const alg of SIGNING_ALGS) {
    // newest first; ties broken by kid so every instance picks the same active key
    const ofAlg = rows
      .filter((r) => r.alg === alg)
      .sort((a, b) => b.activates_at.getTime() - a.activates_at.getTime() || (a.kid < b.kid ? -1 : 1));
    let successorActivation: Date | undefined;
    let sawActive = false;
    for (const row of ofAlg) {
      if (row.activates_at > now) {
        views.push({ row, state: 'pending', retiresAt: undefined });
      } else if (!sawActive) {
        sawActive = true;
        views.push({ row, state: 'active', retiresAt: undefined });
      } else {
        const retiresAt = new Date((successorActivation ?? now).getTime() + MAX_JWT_LIFETIME_SECONDS * 1000);
        views.push({ row, state: 'retired', retiresAt });
      }
      if (row.activates_at <= now) successorActivation = row.activates_at;
    }
  }
  return views;
}
