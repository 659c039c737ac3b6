import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';

export interface LimiterSpec {
  keyPrefix: string;
  /** Allowed consumptions per window. */
  points: number;
  /** Window, seconds. */
  duration: number;
}

/** Makes rate limiters: in memory (one process), or in Redis so that every instance shares them. */
export type LimiterFactory = (spec: LimiterSpec) => RateLimiterAbstract;

export const memoryLimiters: LimiterFactory = (spec) => new RateLimiterMemory(spec);

/**
 * Limiters in Redis. If Redis is unreachable, each falls back to an in-memory limiter of the
 * same spec (rate-limiter-flexible's insurance), so limits still hold per instance.
 */
export function redisLimiters(client: Redis): LimiterFactory {
  return (spec) =>
    new RateLimiterRedis({
      ...spec,
      keyPrefix: `tollgate:${spec.keyPrefix}`,
      storeClient: client,
      insuranceLimiter: new RateLimiterMemory(spec),
    });
}
