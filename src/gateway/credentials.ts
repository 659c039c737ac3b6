import { z } from 'zod';
import { digestSecret, generateSecret, newId, secretMatchesDigest, TollgateError } from '../common/index.ts';
import { type DatabaseHandle, GATEWAY_CHANNEL, gatewayQueries, watchChannel } from '../db/index.ts';

/** The header a gateway's configuration sets on every forward-auth request. */
export const GATEWAY_KEY_HEADER = 'x-tollgate-gateway-key';

export const createGatewayInput = z.strictObject({
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
      'must be 1–64 letters, digits or . _ - (starting with a letter or digit)',
    ),
});

export interface GatewayView {
  id: string;
  name: string;
  created_at: string;
}

export interface VerifiedGateway {
  id: string;
  name: string;
}

/**
 * Gateway credentials: API keys of the form `<gateway id>.<256-bit secret>`, shown once and
 * stored as a SHA-256 digest. Forward-auth checks them on every request, so every instance keeps
 * the (small) table in memory, re-read on NOTIFY and by polling; a deleted gateway is refused
 * at once by the instance that deleted it and within a second by the others.
 */
export class GatewayCredentials {
  readonly #db: DatabaseHandle;
  readonly #pollMs: number;
  #byId = new Map<string, { name: string; digest: string }>();
  #unwatch: (() => Promise<void>) | undefined;

  constructor(db: DatabaseHandle, options: { pollMs: number }) {
    this.#db = db;
    this.#pollMs = options.pollMs;
  }

  async start(onError: (error: unknown) => void): Promise<void> {
    await this.refresh();
    this.#unwatch = await watchChannel(this.#db, GATEWAY_CHANNEL, {
      pollMs: this.#pollMs,
      refresh: () => this.refresh(),
      onError,
    });
  }

  async stop(): Promise<void> {
    await this.#unwatch?.();
  }

  async refresh(): Promise<void> {
    const rows = await gatewayQueries(this.#db.db).list();
    this.#byId = new Map(rows.map((row) => [row.id, { name: row.name, digest: row.key_digest }]));
  }

  /** The gateway a presented key belongs to, or undefined; the digest comparison is constant-time. */
  verify(key: string | undefined): VerifiedGateway | undefined {
    if (key === undefined) return undefined;
    const dot = key.indexOf('.');
    const id = dot > 0 ? key.slice(0, dot) : '';
    const known = this.#byId.get(id);
    // An unknown id still pays for one digest comparison, so timing does not tell ids apart.
    const matches = secretMatchesDigest(key, known?.digest ?? UNKNOWN_DIGEST);
    return known && matches ? { id, name: known.name } : undefined;
  }

  async create(input: z.infer<typeof createGatewayInput>): Promise<GatewayView & { key: string }> {
    const id = newId('gw');
    const key = `${id}.${generateSecret()}`;
    const row = await gatewayQueries(this.#db.db).insert({
      id,
      name: input.name,
      key_digest: digestSecret(key),
    });
    if (!row) throw new TollgateError('conflict', `name: a gateway named ${input.name} already exists`);
    await this.refresh();
    return { id, name: row.name, created_at: row.created_at.toISOString(), key };
  }

  async list(): Promise<GatewayView[]> {
    return (await gatewayQueries(this.#db.db).list()).map((row) => ({
      id: row.id,
      name: row.name,
      created_at: row.created_at.toISOString(),
    }));
  }

  async delete(name: string): Promise<void> {
    const deleted = await gatewayQueries(this.#db.db).deleteByName(name);
    await this.refresh();
    if (!deleted) throw new TollgateError('not_found', `gateway ${name} does not exist`);
  }
}

const UNKNOWN_DIGEST = digestSecret(generateSecret());
