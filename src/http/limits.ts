import type { Logger } from 'pino';
import { RateLimiterRes } from 'rate-limiter-flexible';
import { type LimiterFactory, TollgateError } from '../common/index.ts';

/**
 * Limits `/decide` per calling client (decisions per second). Over the limit: 429 with
 * Retry-After in OAuth's error shape; the limited caller is logged once per window.
 */
export function createCallerLimit(limiters: LimiterFactory, perSecond: number, logger: Logger) {
  const limiter = limiters({ keyPrefix: 'decide_caller', points: perSecond, duration: 1 });
  return async function limitCaller(clientId: string): Promise<void> {
    try {
      await limiter.consume(clientId);
    } catch (rejected) {
      if (!(rejected instanceof RateLimiterRes)) throw rejected;
      if (rejected.consumedPoints === perSecond + 1) {
        logger.warn({ caller: clientId, limit: perSecond }, 'decide rate limit reached');
      }
      throw new TollgateError(
        'too_many_requests',
        `caller ${clientId} exceeded ${perSecond} requests per second`,
        {
          retryAfterSeconds: Math.max(1, Math.ceil(rejected.msBeforeNext / 1000)),
        },
      );
    }
  };
}
