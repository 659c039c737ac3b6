import type { Logger } from 'pino';
import { consumeWithin, type LimiterFactory, TollgateError } from '../common/index.ts';

/**
 * Limits `/decide` per calling client (decisions per second). Over the limit: 429 with
 * Retry-After in OAuth's error shape; the limited caller is logged once per window.
 */
export function createCallerLimit(
  limiters: LimiterFactory,
  perSecond: number,
  logger: Logger,
  onLimited: () => void = () => {},
) {
  const limiter = limiters({ keyPrefix: 'decide_caller', points: perSecond, duration: 1 });
  return async function limitCaller(clientId: string): Promise<void> {
    const over = await consumeWithin(limiter, clientId);
    if (!over) return;
    onLimited();
    if (over.first) logger.warn({ caller: clientId, limit: perSecond }, 'decide rate limit reached');
    throw new TollgateError(
      'too_many_requests',
      `caller ${clientId} exceeded ${perSecond} requests per second`,
      {
        retryAfterSeconds: over.retryAfterSeconds,
      },
    );
  };
}
