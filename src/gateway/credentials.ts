import { z } from 'zod';
import { digestSecret, generateSecret, newId, secretMatchesDigest, TollgateError } from '../common/index.ts';
import {
  apiQueries,
  ChannelFollower,
  type DatabaseHandle,
  GATEWAY_CHANNEL,
  gatewayQueries,
} from '../db/index.ts';

/** The header a gateway's configuration sets on every forward-auth request. */
export const GATEWAY_KEY_HEADER = 'x-tollgate-gateway-key';

/** The APIs (audiences) a gateway protects: at least one, each a registered API. */
const gatewayApis = z
  .array(z.string().min(1, 'must not be empty').max(2048, 'must be at most 2048 characters'))
  .min(1, 'name at least one API (audience) the gateway protects')
  .max(50, 'at most 50 APIs a gateway')
  .transform((list) => [...new Set(list)]);

/**
 * Whether the gateway terminates mutual TLS and passes the client's certificate in the
 * MTLS_CERTIFICATE_HEADER header. A certificate is public: from a gateway that merely forwards
 * its clients' headers, the header would be whatever the client wrote, so only gateways that say
 * they set it are believed.
 */
const clientCertificates = z.boolean({ error: 'must be true or false' });

export const createGatewayInput = z.strictObject({
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
      'must be 1–64 letters, digits or . _ - (starting with a letter or digit)',
    ),
  apis: gatewayApis,
  client_certificates: clientCertificates.default(false),
});

export const updateGatewayInput = z.strictObject({
  apis: gatewayApis,
  client_certificates: clientCertificates.optional(),
});

export interface GatewayView {
  id: string;
  name: string;
  /** The APIs it protects; empty (every token refused) for one created before issue 9. */
  apis: string[];
  /** Its certificate header is believed (it terminates mutual TLS). */
  client_certificates: boolean;
  created_at: string;
}

export interface VerifiedGateway {
  id: string;
  name: string;
  /** End-user tokens are accepted only for these audiences; none at all when empty. */
  audiences: readonly string[];
  /** Whether its client-certificate header is believed (createGatewayInput). */
  clientCertificates: boolean;
}

/**
 * Gateway credentials: API keys of the form `<gateway id>.<256-bit secret>`, shown once and
 * stored as a SHA-256 digest. Forward-auth checks them on every request, so every instance keeps
 * the (small) table in memory, re-read on NOTIFY and by polling; a deleted gateway is refused
 * at once by the instance that deleted it and within a second by the others.
 */
export class GatewayCredentials {
  readonly #db: DatabaseHandle;
  readonly #follower: ChannelFollower;
  #byId = new Map<
    string,
    { name: string; digest: string; audiences: readonly string[]; clientCertificates: boolean }
  >();

  constructor(db: DatabaseHandle, options: { pollMs: number }) {
    this.#db = db;
    this.#follower = new ChannelFollower(db, GATEWAY_CHANNEL, options);
  }

  async start(onError: (error: unknown) => void): Promise<void> {
    const refresh = () => this.refresh();
    await this.#follower.start({ first: refresh, refresh }, onError);
  }

  async stop(): Promise<void> {
    await this.#follower.stop();
  }

  async refresh(): Promise<void> {
    const rows = await gatewayQueries(this.#db.db).list();
    this.#byId = new Map(
      rows.map((row) => [
        row.id,
        {
          name: row.name,
          digest: row.key_digest,
          audiences: row.audiences,
          clientCertificates: row.client_certificates,
        },
      ]),
    );
  }

  /** Names of the gateways that protect no API, so refuse every token (created before issue 9). */
  unbound(): string[] {
    return [...this.#byId.values()].filter((g) => g.audiences.length === 0).map((g) => g.name);
  }

  /** The gateway a presented key belongs to, or undefined; the digest comparison is constant-time. */
  verify(key: string | undefined): VerifiedGateway | undefined {
    if (key === undefined) return undefined;
    const dot = key.indexOf('.');
    const id = dot > 0 ? key.slice(0, dot) : '';
    const known = this.#byId.get(id);
    // An unknown id still pays for one digest comparison, so timing does not tell ids apart.
    const matches = secretMatchesDigest(key, known?.digest ?? UNKNOWN_DIGEST);
    return known && matches
      ? { id, name: known.name, audiences: known.audiences, clientCertificates: known.clientCertificates }
      : undefined;
  }

  async create(input: z.infer<typeof createGatewayInput>): Promise<GatewayView & { key: string }> {
    await this.#assertProtectable(input.apis);
    const id = newId('gw');
    const key = `${id}.${generateSecret()}`;
    const row = await gatewayQueries(this.#db.db).insert({
      id,
      name: input.name,
      key_digest: digestSecret(key),
      client_certificates: input.client_certificates,
      audiences: input.apis,
    });
    if (!row) throw new TollgateError('conflict', `name: a gateway named ${input.name} already exists`);
    await this.refresh();
    return { ...view(row), key };
  }

  /** Replaces the APIs a gateway protects (and, when given, whether it passes certificates); its key stays. */
  async update(name: string, input: z.infer<typeof updateGatewayInput>): Promise<GatewayView> {
    await this.#assertProtectable(input.apis);
    const row = await gatewayQueries(this.#db.db).setAudiences(name, input.apis, input.client_certificates);
    if (!row) throw new TollgateError('not_found', `gateway ${name} does not exist`);
    await this.refresh();
    return view(row);
  }

  async list(): Promise<GatewayView[]> {
    return (await gatewayQueries(this.#db.db).list()).map(view);
  }

  async get(name: string): Promise<GatewayView | undefined> {
    const row = await gatewayQueries(this.#db.db).findByName(name);
    return row && view(row);
  }

  /**
   * Each audience must be a registered API, and not Tollgate's own: its tokens are the admin
   * and decide credentials of machine clients, never an end user's way into an upstream.
   */
  async #assertProtectable(audiences: readonly string[]): Promise<void> {
    const apis = apiQueries(this.#db.db);
    for (const [i, audience] of audiences.entries()) {
      const api = await apis.findByAudience(audience);
      if (!api) {
        throw new TollgateError(
          'invalid_request',
          `apis.${i}: no API with audience ${audience}; create it first`,
        );
      }
      if (api.builtin) {
        throw new TollgateError(
          'invalid_request',
          `apis.${i}: ${audience} is Tollgate's own API, not one a gateway protects`,
        );
      }
    }
  }

  async delete(name: string): Promise<void> {
    const deleted = await gatewayQueries(this.#db.db).deleteByName(name);
    await this.refresh();
    if (!deleted) throw new TollgateError('not_found', `gateway ${name} does not exist`);
  }
}

function view(row: {
  id: string;
  name: string;
  audiences: string[];
  client_certificates: boolean;
  created_at: Date;
}): GatewayView {
  return {
    id: row.id,
    name: row.name,
    apis: row.audiences,
    client_certificates: row.client_certificates,
    created_at: row.created_at.toISOString(),
  };
}

const UNKNOWN_DIGEST = digestSecret(generateSecret());
