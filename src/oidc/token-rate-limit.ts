import Provider, { errors } from 'oidc-provider';
import type { Logger } from 'pino';
import { consumeWithin, type LimiterFactory } from '../common/index.ts';

/** 429 in oidc-provider's error shape, rendered by its own token-endpoint error handler. */
export class TooManyRequests extends errors.CustomOIDCProviderError {
  constructor(description: string) {
    super('too_many_requests', description);
    Object.assign(this, { status: 429, statusCode: 429 });
  }
}

const counted = new WeakSet<object>();

/**
 * Limits token requests per client (`TOKEN_RATE_LIMIT` a minute). It runs where oidc-provider
 * looks the client up during client authentication, so it sees the client id whatever the
 * authentication method (Basic, form post, JWT assertion) and refuses before anything is issued.
 */
export function createTokenRateLimit(
  limiters: LimiterFactory,
  perMinute: number,
  logger: Logger,
  onLimited: () => void = () => {},
) {
  const limiter = limiters({ keyPrefix: 'token_client', points: perMinute, duration: 60 });
  return async function limitTokenRequest(clientId: string): Promise<void> {
    const ctx = Provider.ctx;
    // One count per token request, however often the client is looked up while serving it.
    if (ctx?.method !== 'POST' || ctx.path !== '/token' || counted.has(ctx)) return;
    counted.add(ctx);
    const over = await consumeWithin(limiter, clientId);
    if (!over) return;
    onLimited();
    if (over.first) logger.warn({ client: clientId, limit: perMinute }, 'token rate limit reached');
    ctx.set('Retry-After', String(over.retryAfterSeconds));
    throw new TooManyRequests(`client ${clientId} exceeded ${perMinute} token requests per minute`);
  };
}
