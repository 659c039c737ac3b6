import Provider, { errors } from 'oidc-provider';
import type { Logger } from 'pino';
import type { RateLimiterRes } from 'rate-limiter-flexible';
import { type LimiterFactory, waitSeconds } from '../common/index.ts';
import { currentRoute, type RoutedContext } from './address-allow-list.ts';

/** 429 in oidc-provider's error shape, rendered by its own token-endpoint error handler. */
export class TooManyRequests extends errors.CustomOIDCProviderError {
  constructor(description: string) {
    super('too_many_requests', description);
    Object.assign(this, { status: 429, statusCode: 429 });
  }
}

/**
 * Limits token requests per client (`TOKEN_RATE_LIMIT` a minute), charged only once the client
 * has authenticated (issue 9): client ids are public, and a budget anyone could spend by naming
 * the id would let them starve the client. `check` runs where oidc-provider looks the client up
 * and refuses a client that has used up its minute; `middleware` charges the request afterwards
 * when the client proved who it is (its credential was accepted; a public client, which has no
 * credential, when tokens were issued). Requests of one client already in flight when it reaches
 * the limit still complete: the limit is a budget per minute, not a concurrency cap.
 */
export function createTokenRateLimit(
  limiters: LimiterFactory,
  perMinute: number,
  logger: Logger,
  onLimited: () => void = () => {},
) {
  const limiter = limiters({ keyPrefix: 'token_client', points: perMinute, duration: 60 });

  /** Seconds `clientId` must wait before its next token request (0: it may ask now). */
  async function wait(clientId: string): Promise<number> {
    return waitSeconds(await limiter.get(clientId), perMinute);
  }

  /** Spends one of the client's requests this minute. */
  async function charge(clientId: string): Promise<void> {
    const charged = await limiter.consume(clientId).catch((r: RateLimiterRes) => r);
    if (charged.consumedPoints === perMinute)
      logger.warn({ client: clientId, limit: perMinute }, 'token rate limit reached');
  }

  async function check(clientId: string): Promise<void> {
    const ctx = Provider.ctx as RoutedContext | undefined;
    if (!ctx || currentRoute(ctx) !== 'token') return;
    const seconds = await wait(clientId);
    if (seconds === 0) return;
    onLimited();
    ctx.set('Retry-After', String(seconds));
    throw new TooManyRequests(`client ${clientId} exceeded ${perMinute} token requests per minute`);
  }

  async function chargeAuthenticatedClient(ctx: RoutedContext, next: () => Promise<void>) {
    await next();
    const client = ctx.oidc?.client;
    if (currentRoute(ctx) !== 'token' || !client) return;
    // 401: the credential was refused; 429: refused by a limit before anything was done.
    if (ctx.status === 401 || ctx.status === 429) return;
    if (client.clientAuthMethod === 'none' && ctx.status !== 200) return;
    await charge(client.clientId);
  }

  return { check, middleware: chargeAuthenticatedClient, wait, charge };
}
