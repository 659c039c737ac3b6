import type { Logger } from 'pino';
import type { AuditSink } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';
import { purgeExpired } from '../oidc/index.ts';
import type { Lifecycle } from './lifecycle.ts';

/** KEY_ROTATION_DAYS: successors are added once the keys are that old, and the rotation audited. */
export function scheduleKeyRotation(
  ring: SigningKeyRing,
  audit: AuditSink,
  config: Pick<Config, 'keys'>,
  logger: Logger,
  lifecycle: Lifecycle,
): void {
  const rotationDays = config.keys.rotationDays;
  if (rotationDays === undefined) return;
  const stop = ring.startRotation(rotationDays * 86_400, {
    onRotated: (keys) => {
      logger.info({ keys: keys.map((k) => `${k.alg}:${k.kid}`) }, 'signing keys rotated on schedule');
      audit.record({
        type: 'key.rotated',
        actor: 'KEY_ROTATION_DAYS',
        data: { trigger: 'schedule', after: keys },
      });
    },
    onError: (error) => logger.error({ err: error }, 'scheduled key rotation failed; will retry'),
  });
  lifecycle.started(ring, 'key rotation schedule', stop);
}

/** Expired tokens, denylist entries and old user changes go every PURGE_INTERVAL_SECONDS. */
export function schedulePurge(
  db: DatabaseHandle,
  config: Pick<Config, 'purgeIntervalSeconds'>,
  logger: Logger,
  lifecycle: Lifecycle,
): void {
  const purge = setInterval(() => {
    purgeExpired(db)
      .then((n) => n.payloads + n.revoked > 0 && logger.info(n, 'expired rows purged'))
      .catch((error) => logger.error({ err: error }, 'purge failed'));
  }, config.purgeIntervalSeconds * 1000);
  purge.unref();
  lifecycle.started(purge, 'purge timer', () => clearInterval(purge));
}
