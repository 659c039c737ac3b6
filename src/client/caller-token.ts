import { z } from 'zod';
import { TollgateUnavailableError } from './errors.ts';
import { exchange, type Transport } from './transport.ts';

// RFC 8414 §3: only what the client uses; the issuer is compared below (§3.3).
const discoveryDocument = z.object({ issuer: z.string(), token_endpoint: z.url() });
// RFC 6749 §5.1. expires_in is optional there; Tollgate always sends it.
const tokenAnswer = z.object({
  access_token: z.string().min(1),
  token_type: z.string().regex(/^bearer$/i),
  expires_in: z.number().positive(),
});

export interface CallerTokenOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Space-separated scopes asked for; Tollgate's decide API needs `decide`. */
  scope: string;
  /** Renew this long before the token expires (capped at half its lifetime). */
  renewBeforeMs: number;
  now: () => number;
}

/**
 * The service's own access token for Tollgate (client credentials, RFC 6749 §4.4, at the token
 * endpoint named by the issuer's discovery document). It is fetched on first use and renewed
 * before it expires; callers that need it while a request is on its way share that request.
 */
export class CallerToken {
  readonly #options: CallerTokenOptions;
  readonly #transport: Transport;
  #tokenEndpoint: Promise<string> | undefined;
  #current: { value: string; renewAt: number } | undefined;
  #pending: Promise<string> | undefined;

  constructor(options: CallerTokenOptions, transport: Transport) {
    this.#options = options;
    this.#transport = transport;
  }

  /** A token valid for a while yet. */
  get(): Promise<string> {
    const current = this.#current;
    if (current && this.#options.now() < current.renewAt) return Promise.resolve(current.value);
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** Forgets `value` after Tollgate refused it (revoked, or its signing key retired). */
  discard(value: string): void {
    if (this.#current?.value === value) this.#current = undefined;
  }

  async #fetch(): Promise<string> {
    const { clientId, clientSecret, scope, now, renewBeforeMs } = this.#options;
    // RFC 6749 §2.3.1: both halves are form-urlencoded before they are joined and encoded.
    const basic = Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64');
    const requestedAt = now();
    const answer = await exchange(this.#transport, await this.#endpoint(), {
      method: 'POST',
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
    const token = parseAnswer(tokenAnswer, answer, 'token endpoint');
    const lifetimeMs = token.expires_in * 1000;
    // Counted from when the request left: the answer may have been on its way a while.
    const renewAt = requestedAt + lifetimeMs - Math.min(renewBeforeMs, lifetimeMs / 2);
    this.#current = { value: token.access_token, renewAt };
    return token.access_token;
  }

  #endpoint(): Promise<string> {
    this.#tokenEndpoint ??= this.#discover().catch((error: unknown) => {
      this.#tokenEndpoint = undefined; // tried again on the next call
      throw error;
    });
    return this.#tokenEndpoint;
  }

  async #discover(): Promise<string> {
    const issuer = this.#options.issuer;
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const document = parseAnswer(
      discoveryDocument,
      await exchange(this.#transport, url, { method: 'GET', headers: { accept: 'application/json' } }),
      'discovery document',
    );
    // RFC 8414 §3.3: a document naming another issuer is not this issuer's.
    if (document.issuer !== issuer)
      throw new TollgateUnavailableError(
        'server_error',
        `the discovery document at ${url} names issuer ${document.issuer}, not ${issuer}`,
      );
    return document.token_endpoint;
  }
}

const formEncode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);

/** An answer Tollgate would never send means something else answered: as good as no answer. */
export function parseAnswer<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TollgateUnavailableError(
      'server_error',
      `unexpected answer from the ${what}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    );
  }
  return parsed.data;
}
