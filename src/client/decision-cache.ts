import type { Decision } from './types.ts';

/**
 * Tollgate's answers kept for a few seconds, keyed by everything the request says (subject,
 * token included, action, resource with its attributes, field, context): an answer is reused
 * only for the very same question. What the key cannot hold — a new policy version, a revoked
 * token, a user's changed attributes — is why the lifetime must stay short.
 */
export class DecisionCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  // Insertion order is expiry order (one TTL for all), so the first entries go first.
  readonly #entries = new Map<string, { decision: Decision; expiresAt: number }>();

  constructor(options: { ttlMs: number; maxEntries: number; now: () => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
    this.#now = options.now;
  }

  get(key: string): Decision | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (this.#now() < entry.expiresAt) return entry.decision;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, decision: Decision): void {
    this.#entries.delete(key);
    this.#entries.set(key, { decision, expiresAt: this.#now() + this.#ttlMs });
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#maxEntries) break;
      this.#entries.delete(oldest);
    }
  }
}

/**
 * JSON with object keys sorted, so `{ a, b }` and `{ b, a }` are one question. Throws, as
 * JSON.stringify does, for what cannot travel as JSON (cycles, BigInt).
 */
export function stableKey(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    // fromEntries defines own properties: a "__proto__" key stays a key, as JSON.parse made it.
    return Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
