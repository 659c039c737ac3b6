import type { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';

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

/** Seconds until a limited key may try again, at least 1: the Retry-After value. */
export function retryAfterSeconds(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}

/** Seconds a key still has to wait once its count has reached `blockedAt`; 0 below that. */
export function waitSeconds(res: RateLimiterRes | null, blockedAt: number): number {
  return res !== null && res.consumedPoints >= blockedAt ? retryAfterSeconds(res) : 0;
}

export interface OverLimit {
  retryAfterSeconds: number;
  /** The first request over the limit in this window: the moment to log the limited party. */
  first: boolean;
}

/** Takes one point for `key`: undefined within the limit, otherwise how it is over. */
export async function consumeWithin(
  limiter: RateLimiterAbstract,
  key: string,
): Promise<OverLimit | undefined> {
  try {
    await limiter.consume(key);
    return undefined;
  } catch (rejected) {
    if (!(rejected instanceof RateLimiterRes)) throw rejected;
    return {
      retryAfterSeconds: retryAfterSeconds(rejected),
      first: rejected.consumedPoints === limiter.points + 1,
    };
  }
}
