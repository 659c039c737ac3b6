import cluster from 'node:cluster';
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { apiUseCases, bootstrap, clientUseCases } from './admin/index.ts';
import { startAuditLog } from './audit/index.ts';
import { ConfigError, memoryLimiters, redisLimiters } from './common/index.ts';
import { type Config, loadConfig } from './config/index.ts';
import { type DatabaseHandle, migrateToLatest, openDatabase } from './db/index.ts';
import { GatewayCredentials } from './gateway/index.ts';
import {
  auditMetrics,
  buildApp,
  clusterMetrics,
  createCallerLimit,
  createMetrics,
  type LimitName,
  listen,
  meteredAudit,
  registryMetrics,
  shareWithPrimary,
  startMetricsServer,
  superviseWorkers,
  watchResources,
} from './http/index.ts';
import { resolveKeyEncryptionKey, SigningKeyRing } from './keys/index.ts';
import {
  ClientGrants,
  clientAuthGuard,
  createSubjectResolver,
  createTokenRateLimit,
  createUserDirectory,
  LoginGuard,
  OidcService,
  purgeExpired,
  RevocationList,
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
        : { kind: 'pglite', dataDir: config.database.dataDir },
    ));
  const applied = await migrateToLatest(db.db as never);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');

  const ring = new SigningKeyRing(db, kek.key, config.keys);
  await ring.init();
  ring.on('change', () =>
    logger.info({ keys: ring.list().map((k) => `${k.alg}:${k.kid}:${k.state}`) }, 'signing keys changed'),
  );
  ring.start((error) => logger.error({ err: error }, 'signing key refresh failed; keeping the last key set'));

  // How often in-memory state re-reads the database besides NOTIFY: often on the embedded
  // database (one process), as a safety net on PostgreSQL.
  const pollMs = db.kind === 'pglite' ? 500 : 5000;
  const revocations = new RevocationList(db, { pollMs });
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
  const auditLog = await startAuditLog(
    db,
    { capacity: config.audit.bufferSize, batchSize: 500, flushMs: config.audit.flushMs },
    {
      metrics: auditMetrics(metrics),
      onError: (error) =>
        logger.error({ err: error }, 'writing the audit log failed; events stay buffered and are retried'),
    },
  );
  const audit = meteredAudit(auditLog, metrics);
  const clientGuard = clientAuthGuard(limiters, config.clientAuth, logger, audit, limited('client_auth'));
  const limitTokens = createTokenRateLimit(limiters, config.tokenRateLimit, logger, limited('token'));
  const oidc = new OidcService({
    issuer: config.issuer,
    db,
    ring,
    cookieSecret,
    revocations,
    grants,
    guards: [clientGuard.middleware],
    onClientUse: async (clientId) => {
      await clientGuard.checkClient(clientId);
      await limitTokens(clientId);
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
  const resolveSubject = createSubjectResolver({
    verifier: oidc.verifier,
    users: createUserDirectory(db),
    audiences: config.subjectTokenAudiences,
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
    decisionLog: config.decisionLog,
    resolveSubject,
    metrics,
    csrfSecret: derive('csrf'),
    loginGuard: new LoginGuard(config.login, limiters),
    trustedProxies: config.trustedProxies,
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
      await policies.stop();
      await gateways.stop();
      await grants.stop();
      redis?.disconnect();
      await http.close();
      metricsServer?.close();
      // Everything recorded until the last response is written before the database closes.
      await auditLog.close();
      if (!options.db) await db.close();
    },
  };
}

async function main(): Promise<void> {
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
    process.exit(1);
  });
}
