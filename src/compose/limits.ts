import type { Logger } from 'pino';
import type { AuditSink } from '../audit/index.ts';
import { type LimiterFactory, memoryLimiters, redisLimiters } from '../common/index.ts';
import type { Config } from '../config/index.ts';
import { createCallerLimit, type LimitName, type Metrics } from '../http/index.ts';
import { clientAuthGuard, createTokenRateLimit, LoginGuard } from '../oidc/index.ts';
import type { Lifecycle } from './lifecycle.ts';

/**
 * Redis shares rate limits and lockouts across instances; without it they are per process, and
 * its client is not even loaded (about 30 ms of every start).
 */
export async function createLimiters(
  config: Pick<Config, 'redisUrl'>,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<LimiterFactory> {
  if (!config.redisUrl) return memoryLimiters;
  const { Redis } = await import('ioredis');
  const redis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  redis.on('error', (error) =>
    logger.warn({ err: error.message }, 'redis unavailable; limits fall back to this process'),
  );
  lifecycle.started(redis, 'redis', () => redis.disconnect());
  return redisLimiters(redis);
}

/** Every limit and lockout, each counting what it refuses. */
export function createGuards(
  limiters: LimiterFactory,
  config: Pick<Config, 'clientAuth' | 'tokenRateLimit' | 'decideRateLimit' | 'login'>,
  logger: Logger,
  metrics: Metrics,
  audit: AuditSink,
) {
  const limited = (limit: LimitName) => () => metrics.rateLimited.inc({ limit });
  return {
    clientGuard: clientAuthGuard(limiters, config.clientAuth, logger, audit, {
      onLimited: limited('client_auth'),
      onAttack: (client) => metrics.clientAuthAttacks.inc({ client }),
    }),
    tokenLimit: createTokenRateLimit(limiters, config.tokenRateLimit, logger, limited('token')),
    /** /decide callers and forward-auth gateways, under one limit per caller. */
    limitCaller: createCallerLimit(limiters, config.decideRateLimit, logger, limited('decide')),
    loginGuard: new LoginGuard(config.login, limiters),
  };
}
