import type { Logger } from 'pino';
import type { AuditSink } from '../audit/index.ts';
import type { Clock } from '../common/index.ts';
import type { Config } from '../config/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import { GatewayCredentials } from '../gateway/index.ts';
import { SigningKeyRing } from '../keys/index.ts';
import { ClientGrants, RevocationList, UserDirectory } from '../oidc/index.ts';
import { PolicyStore } from '../pdp/index.ts';
import type { Lifecycle } from './lifecycle.ts';

/**
 * How often in-memory state re-reads the database besides NOTIFY: often on the embedded
 * database (one process), as a safety net on PostgreSQL.
 */
export function pollInterval(db: DatabaseHandle, override: number | undefined): number {
  return override ?? (db.kind === 'pglite' ? 500 : 5000);
}

/** The signing keys, read (and created on a first start), then refreshed on a timer. */
export async function startKeyRing(
  db: DatabaseHandle,
  kek: Buffer,
  config: Pick<Config, 'keys'>,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<SigningKeyRing> {
  const ring = new SigningKeyRing(db, kek, config.keys);
  ring.on('refused', ({ kid, reason }) =>
    logger.error({ kid, reason }, 'signing key refused: its database row was altered; it is not used'),
  );
  const resealed = await ring.init();
  if (resealed.length > 0) logger.info({ kids: resealed }, 'signing keys re-sealed with their binding');
  ring.on('change', () =>
    logger.info({ keys: ring.list().map((k) => `${k.alg}:${k.kid}:${k.state}`) }, 'signing keys changed'),
  );
  ring.start((error) => logger.error({ err: error }, 'signing key refresh failed; keeping the last key set'));
  return lifecycle.started(ring, 'signing key ring', () => ring.stop());
}

/** The token denylist and the user cache, each following its channel from now on. */
export async function startTokenState(
  db: DatabaseHandle,
  options: { pollMs: number; clock: Clock | undefined },
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ revocations: RevocationList; userDirectory: UserDirectory }> {
  const { pollMs, clock } = options;
  const revocations = new RevocationList(db, { pollMs, clock });
  await revocations.start((error) => logger.error({ err: error }, 'reading revocations failed'));
  lifecycle.started(revocations, 'revocation list', () => revocations.stop());
  // Users deleted or disabled are dropped from every instance's cache by the same event (issue 9).
  const userDirectory = new UserDirectory(db, { pollMs });
  await userDirectory.start((error) => logger.error({ err: error }, 'reading user changes failed'));
  lifecycle.started(userDirectory, 'user directory', () => userDirectory.stop());
  return { revocations, userDirectory };
}

/**
 * Client grants are built early (the provider and the use cases hold them) but read only once
 * bootstrap has committed: its transaction is one they could not see.
 */
export async function startGrants(grants: ClientGrants, logger: Logger, lifecycle: Lifecycle): Promise<void> {
  await grants.start((error) => logger.error({ err: error }, 'reading client grants failed'));
  lifecycle.started(grants, 'client grants', () => grants.stop());
}

export function createGrants(db: DatabaseHandle, pollMs: number): ClientGrants {
  return new ClientGrants(db, { pollMs });
}

/** The policy set in force: seeded from POLICY_DIR into an empty store, then followed. */
export async function startPolicies(
  db: DatabaseHandle,
  pollMs: number,
  config: Pick<Config, 'policyDir'>,
  audit: AuditSink,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<PolicyStore> {
  const policies = new PolicyStore(db, { pollMs });
  const seeded = await policies.seedFrom(config.policyDir);
  if (seeded !== undefined) {
    logger.info({ version: seeded, dir: config.policyDir }, 'policies loaded from POLICY_DIR');
    audit.record({
      type: 'policy.pushed',
      actor: 'POLICY_DIR',
      data: { version: seeded, dir: config.policyDir },
    });
  }
  await policies.start((error) =>
    logger.error({ err: error }, 'loading policies failed; keeping the version in force'),
  );
  return lifecycle.started(policies, 'policy store', () => policies.stop());
}

export async function startGateways(
  db: DatabaseHandle,
  pollMs: number,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<GatewayCredentials> {
  const gateways = new GatewayCredentials(db, { pollMs });
  await gateways.start((error) => logger.error({ err: error }, 'reading gateway credentials failed'));
  lifecycle.started(gateways, 'gateway credentials', () => gateways.stop());
  // Issue 9: gateways from before migration 0007 protect no API, so refuse every token; say so.
  for (const name of gateways.unbound()) {
    logger.warn(
      { gateway: name },
      `!!! gateway ${name} protects no API, so it refuses EVERY end-user token (401, detail audience). Name its APIs: tollgate gateway update ${name} --api AUDIENCE !!!`,
    );
  }
  return gateways;
}
