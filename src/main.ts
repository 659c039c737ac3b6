import cluster from 'node:cluster';
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import {
  ADMIN_CREDENTIALS_FILE,
  apiUseCases,
  BUILTIN_API,
  bootstrap,
  clientUseCases,
} from './admin/index.ts';
import { auditKeys as buildAuditKeys, startAuditEvidence } from './audit/index.ts';
import {
  type Clock,
  ConfigError,
  memoryLimiters,
  protectDataDir,
  redisLimiters,
  restrictNewFileModes,
} from './common/index.ts';
import { type Config, loadConfig } from './config/index.ts';
import {
  auditExposure,
  type DatabaseHandle,
  DataDirLockedError,
  migrateToLatest,
  openDatabase,
  SchemaBehindError,
} from './db/index.ts';
import { createDecisionEngine } from './decide/index.ts';
import { GatewayCredentials } from './gateway/index.ts';
import {
  auditMetrics,
  buildApp,
  clusterMetrics,
  createCallerLimit,
  createMetrics,
  decisionMetrics,
  type LimitName,
  listen,
  meteredAudit,
  registryMetrics,
  shareWithPrimary,
  startMetricsServer,
  superviseWorkers,
  watchResources,
} from './http/index.ts';
import { DEV_KEY_FILE, resolveKeyEncryptionKey, SigningKeyRing } from './keys/index.ts';
import {
  ClientGrants,
  clientAuthGuard,
  createSubjectResolver,
  createTokenRateLimit,
  LoginGuard,
  OidcService,
  purgeExpired,
  RevocationList,
  UserDirectory,
} from './oidc/index.ts';
import { PolicyStore } from './pdp/index.ts';

export interface Tollgate {
  url: string;
  /** GET /metrics without authentication, when METRICS_PORT is set. */
  metricsUrl: string | undefined;
  server: Server;
  db: DatabaseHandle;
  ring: SigningKeyRing;
  oidc: OidcService;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** An already open database (tests hand in a prepared one). */
  db?: DatabaseHandle;
  /** Listen address; 127.0.0.1 in tests. */
  host?: string;
  /** This instance's clock (default `Date.now`); tests skew it against the database's. */
  clock?: Clock;
}

/** Secrets never appear in logs, whatever object carries them. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.token',
];

/** Composition root: builds every component from config and starts listening. */
export async function startTollgate(config: Config, options: StartOptions = {}): Promise<Tollgate> {
  const logger =
    options.logger ?? pino({ level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
  // DATA_DIR holds the database, the development key and admin.json: owner-only (issue 9), also
  // when an earlier version left it readable to every local user.
  const tightened = protectDataDir(config.dataDir, [
    ...(config.database.kind === 'pglite'
      ? [basename(config.database.dataDir), `${basename(config.database.dataDir)}.lock`]
      : []),
    ADMIN_CREDENTIALS_FILE,
    DEV_KEY_FILE,
  ]);
  if (tightened > 0)
    logger.warn(
      { path: config.dataDir, entries: tightened },
      'DATA_DIR was readable by other users; its files are now 0600 and its directories 0700',
    );
  const kek = resolveKeyEncryptionKey(config.keyEncryptionKey, config.dataDir);
  if (kek.developmentKeyPath) {
    logger.warn(
      { path: kek.developmentKeyPath },
      '!!! KEY_ENCRYPTION_KEY is not set: signing keys are encrypted with a DEVELOPMENT key stored next to the data. Set KEY_ENCRYPTION_KEY (openssl rand -base64 32) before any real use. !!!',
    );
  }

  const db =
    options.db ??
    (await openDatabase(
      config.database.kind === 'postgres'
        ? config.database
        : { kind: 'pglite', dataDir: config.database.dataDir, template: config.database.template },
    ));
  const applied = await migrateToLatest(db.db as never);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  const exposure = await auditExposure(db);
  if (exposure) logger.warn(exposure.detail, exposure.message);
  if (config.migrationDatabaseUrl)
    logger.warn(
      'MIGRATION_DATABASE_URL is set, but only tollgate migrate uses it: keep the owner credentials out of the service',
    );

  const ring = new SigningKeyRing(db, kek.key, config.keys);
  ring.on('refused', ({ kid, reason }) =>
    logger.error({ kid, reason }, 'signing key refused: its database row was altered; it is not used'),
  );
  const resealed = await ring.init();
  if (resealed.length > 0) logger.info({ kids: resealed }, 'signing keys re-sealed with their binding');
  ring.on('change', () =>
    logger.info({ keys: ring.list().map((k) => `${k.alg}:${k.kid}:${k.state}`) }, 'signing keys changed'),
  );
  ring.start((error) => logger.error({ err: error }, 'signing key refresh failed; keeping the last key set'));

  // How often in-memory state re-reads the database besides NOTIFY: often on the embedded
  // database (one process), as a safety net on PostgreSQL.
  const pollMs = db.kind === 'pglite' ? 500 : 5000;
  const revocations = new RevocationList(db, { pollMs, clock: options.clock });
  await revocations.start((error) => logger.error({ err: error }, 'reading revocations failed'));
  const grants = new ClientGrants(db, { pollMs });

  const derive = (purpose: string) => createHmac('sha256', kek.key).update(`tollgate:${purpose}`).digest();
  const cookieSecret = derive('cookies');
  // Redis shares rate limits and lockouts across instances; without it they are per process.
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })
    : undefined;
  redis?.on('error', (error) =>
    logger.warn({ err: error.message }, 'redis unavailable; limits fall back to this process'),
  );
  const limiters = redis ? redisLimiters(redis) : memoryLimiters;

  const metrics = createMetrics();
  watchResources(metrics, db, ring);
  const limited = (limit: LimitName) => () => metrics.rateLimited.inc({ limit });
  // The chain's MAC key: AUDIT_KEY, else derived from the key-encryption key (issue 10).
  const auditKeys = buildAuditKeys({
    configured: config.audit.key,
    previous: config.audit.previousKeys,
    keyEncryptionKey: kek.key,
  });
  const evidence = await startAuditEvidence(
    db,
    {
      keys: auditKeys,
      bufferSize: config.audit.bufferSize,
      flushMs: config.audit.flushMs,
      checkpointSeconds: config.audit.checkpointSeconds,
    },
    { logger, metrics: auditMetrics(metrics), onTampering: () => metrics.auditTampering.inc() },
  );
  const audit = meteredAudit(evidence.writer, metrics);
  const clientGuard = clientAuthGuard(limiters, config.clientAuth, logger, audit, {
    onLimited: limited('client_auth'),
    onAttack: (client) => metrics.clientAuthAttacks.inc({ client }),
  });
  const tokenLimit = createTokenRateLimit(limiters, config.tokenRateLimit, logger, limited('token'));
  // Users deleted or disabled are dropped from every instance's cache by the same event (issue 9).
  const users = new UserDirectory(db, { pollMs });
  await users.start((error) => logger.error({ err: error }, 'reading user changes failed'));
  const oidc = new OidcService({
    issuer: config.issuer,
    db,
    ring,
    cookieSecret,
    revocations,
    users,
    grants,
    guards: [clientGuard.middleware, tokenLimit.middleware],
    onClientUse: async (clientId) => {
      await clientGuard.checkClient(clientId);
      await tokenLimit.check(clientId);
    },
    onProviderEvent: (event, detail) => logger.warn(detail, `oidc ${event}`),
    audit,
  });
  const validateClient = async (metadata: Record<string, unknown>) => {
    await oidc.provider.Client.validate(metadata as never);
  };
  // A change answers only once this instance's grants have it (issue 9: ungrant takes effect at once).
  const clients = clientUseCases(db, validateClient, async (clientId) => {
    oidc.clients.invalidate(clientId);
    await grants.refresh();
  });
  const apis = apiUseCases(db, (audience) => oidc.apis.invalidate(audience));

  // Bootstrap runs in a transaction the grants cannot read yet; they are read when they start.
  const bootstrapClients = clientUseCases(db, validateClient, (clientId) =>
    oidc.clients.invalidate(clientId),
  );
  const adminFile = await bootstrap(db, bootstrapClients, { dataDir: config.dataDir, url: config.issuer });
  if (adminFile)
    logger.warn({ path: adminFile }, `admin client created; its credentials are in ${adminFile}`);
  await grants.start((error) => logger.error({ err: error }, 'reading client grants failed'));

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
  const gateways = new GatewayCredentials(db, { pollMs });
  await gateways.start((error) => logger.error({ err: error }, 'reading gateway credentials failed'));
  // Issue 9: gateways from before migration 0007 protect no API, so refuse every token; say so.
  for (const name of gateways.unbound()) {
    logger.warn(
      { gateway: name },
      `!!! gateway ${name} protects no API, so it refuses EVERY end-user token (401, detail audience). Name its APIs: tollgate gateway update ${name} --api AUDIENCE !!!`,
    );
  }
  if (!config.subjectTokenAudiences) {
    logger.warn(
      'SUBJECT_TOKEN_AUDIENCES is unset: /decide accepts subject tokens for any API registered here unless the request names subject.audience',
    );
  }
  const resolveSubject = createSubjectResolver({
    verifier: oidc.verifier,
    users,
    audiences: config.subjectTokenAudiences,
    ownAudience: BUILTIN_API.audience,
  });

  let accepting = true;
  const { listener } = buildApp({
    logger,
    db,
    ring,
    oidc,
    clients,
    apis,
    policies,
    gateways,
    grants,
    audit,
    auditKeys,
    engine: createDecisionEngine({
      policies: () => policies.current,
      resolveSubject,
      audit,
      decisionLog: config.decisionLog,
      metrics: decisionMetrics(metrics),
    }),
    resolveSubject,
    metrics,
    csrfSecret: derive('csrf'),
    loginGuard: new LoginGuard(config.login, limiters),
    trustedProxies: config.trustedProxies,
    issuer: config.issuer,
    limitCaller: createCallerLimit(limiters, config.decideRateLimit, logger, limited('decide')),
    cookieSecret,
    metricsOnMainPort: config.metricsPort === undefined,
    accepting: () => accepting,
  });
  // With METRICS_PORT, a single process serves it; cluster workers hand theirs to the primary.
  let metricsServer: Server | undefined;
  if (config.metricsPort !== undefined) {
    if (cluster.isWorker) shareWithPrimary(metrics.registry);
    else
      metricsServer = await startMetricsServer(
        config.metricsPort,
        options.host,
        registryMetrics(metrics.registry),
      );
  }

  const rotationDays = config.keys.rotationDays;
  if (rotationDays !== undefined) {
    ring.startRotation(rotationDays * 86_400, {
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
  }

  const purge = setInterval(() => {
    purgeExpired(db)
      .then((n) => n.payloads + n.revoked > 0 && logger.info(n, 'expired rows purged'))
      .catch((error) => logger.error({ err: error }, 'purge failed'));
  }, config.purgeIntervalSeconds * 1000);
  purge.unref();

  const http = await listen(listener, logger, {
    port: config.port,
    host: options.host,
    drainMs: config.shutdownDrainMs,
  });
  const { url } = http;
  logger.info({ url, issuer: config.issuer, database: db.kind }, 'Tollgate listening');

  const metricsAddress = metricsServer?.address() as AddressInfo | undefined;
  return {
    url,
    metricsUrl: metricsAddress && `http://${options.host ?? 'localhost'}:${metricsAddress.port}/metrics`,
    server: http.server,
    db,
    ring,
    oidc,
    async close() {
      // First the drain: still serving, but answers say Connection: close and /readyz 503.
      accepting = false;
      await http.drain();
      clearInterval(purge);
      ring.stop();
      await revocations.stop();
      await users.stop();
      await policies.stop();
      await gateways.stop();
      await grants.stop();
      redis?.disconnect();
      await http.close();
      metricsServer?.close();
      // Everything recorded until the last response is written before the database closes.
      await evidence.close();
      if (!options.db) await db.close();
    },
  };
}

async function main(): Promise<void> {
  // Files created from here on (PGlite's WAL and tables, keys) are owner-only (issue 9).
  restrictNewFileModes();
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) process.stderr.write(`tollgate: invalid configuration: ${line}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (config.workers > 1 && cluster.isPrimary) {
    superviseWorkers(config.workers);
    if (config.metricsPort !== undefined)
      await startMetricsServer(config.metricsPort, undefined, clusterMetrics());
    return;
  }
  const tollgate = await startTollgate(config);
  // Tells a supervising primary that this worker started (see superviseWorkers).
  process.send?.('ready');
  const shutdown = () => {
    tollgate.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `tollgate: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    // Another process holding the embedded database, or a schema only the owner can migrate,
    // is the operator's to resolve, like a bad configuration: exit 2, not 1.
    process.exit(error instanceof DataDirLockedError || error instanceof SchemaBehindError ? 2 : 1);
  });
}
