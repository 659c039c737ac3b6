import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { bootstrap } from '../admin/index.ts';
import { createInputHasher } from '../audit/index.ts';
import type { Clock } from '../common/index.ts';
import type { Config } from '../config/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import { createMetrics, watchResources } from '../http/index.ts';
import type { SigningKeyRing } from '../keys/index.ts';
import { createPages, type OidcService } from '../oidc/index.ts';
import { startAudit } from './audit.ts';
import { createDecisions } from './decisions.ts';
import { Lifecycle } from './lifecycle.ts';
import { createGuards, createLimiters } from './limits.ts';
import { createLogger } from './logger.ts';
import { createOidc, deriveSecrets } from './oidc.ts';
import { scheduleKeyRotation, schedulePurge } from './schedules.ts';
import { serveHttp, serveMetrics } from './serve.ts';
import {
  createGrants,
  pollInterval,
  startGateways,
  startGrants,
  startKeyRing,
  startPolicies,
  startTokenState,
} from './shared-state.ts';
import { openStorage } from './storage.ts';
import { createUseCases } from './use-cases.ts';

export interface Tollgate {
  url: string;
  /** GET /metrics without authentication, when METRICS_PORT is set. */
  metricsUrl: string | undefined;
  server: Server;
  db: DatabaseHandle;
  ring: SigningKeyRing;
  oidc: OidcService;
  /** Stops everything started, in reverse order of start (the HTTP server first, after its drain). */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** An already open database (tests hand in a prepared one); the caller closes it. */
  db?: DatabaseHandle;
  /**
   * The configured database, already being opened (src/main.ts: early-database.ts); this
   * instance closes it, as one it opened itself.
   */
  opening?: Promise<DatabaseHandle>;
  /** Listen address; 127.0.0.1 in tests. */
  host?: string;
  /** This instance's clock (default `Date.now`); tests skew it against the database's. */
  clock?: Clock;
  /**
   * How often followers re-read the database besides NOTIFY (default 500 ms embedded, 5 s on
   * PostgreSQL); tests lengthen it to see what takes effect without it.
   */
  pollMs?: number;
}

/**
 * The composition root: builds every component from config, once, and starts listening. A start
 * that fails stops again whatever it had started.
 */
export async function startTollgate(config: Config, options: StartOptions = {}): Promise<Tollgate> {
  const logger = options.logger ?? createLogger(config);
  const lifecycle = new Lifecycle();
  try {
    return await compose(config, options, logger, lifecycle);
  } catch (error) {
    await lifecycle
      .close()
      .catch((failure: unknown) => logger.error({ err: failure }, 'stopping after a failed start'));
    throw error;
  }
}

async function compose(config: Config, options: StartOptions, logger: Logger, lifecycle: Lifecycle) {
  const { kek, db } = await openStorage(config, options, logger, lifecycle);
  const ring = await startKeyRing(db, kek, config, logger, lifecycle);
  const pollMs = pollInterval(db, options.pollMs);
  const { revocations, userDirectory } = await startTokenState(
    db,
    { pollMs, clock: options.clock },
    logger,
    lifecycle,
  );
  const grants = createGrants(db, pollMs);
  const limiters = await createLimiters(config, logger, lifecycle);
  const metrics = createMetrics();
  watchResources(metrics, db, ring);
  const { audit, auditKeys, auditSegments } = await startAudit(db, kek, config, logger, metrics, lifecycle);
  const guards = createGuards(limiters, config, logger, metrics, audit);
  const { cookieSecret, csrfSecret } = deriveSecrets(kek);
  const pages = createPages(config.ui);
  const oidc = createOidc(
    { db, ring, cookieSecret, revocations, userDirectory, grants, audit, pages, ...guards },
    config,
    logger,
  );
  const useCases = createUseCases({ db, oidc, grants, userDirectory });

  const adminFile = await bootstrap(db, useCases.clients, { dataDir: config.dataDir, url: config.issuer });
  if (adminFile)
    logger.warn({ path: adminFile }, `admin client created; its credentials are in ${adminFile}`);
  await startGrants(grants, logger, lifecycle);
  const policies = await startPolicies(db, pollMs, config, audit, logger, lifecycle);
  const gateways = await startGateways(db, pollMs, logger, lifecycle);
  const inputHasher = createInputHasher(kek);
  const decisions = createDecisions(
    {
      verifier: oidc.verifier,
      apis: oidc.decisionApis,
      userDirectory,
      limiters,
      policies,
      audit,
      inputHasher,
      metrics,
    },
    config,
    logger,
  );

  const metricsUrl = await serveMetrics(metrics, config, options.host, lifecycle);
  scheduleKeyRotation(ring, audit, config, logger, lifecycle);
  schedulePurge(db, config, logger, lifecycle);
  // The one registry: each module takes from it exactly what its Deps type names.
  const registry = {
    logger,
    db,
    ring,
    oidc,
    verifier: oidc.verifier,
    grants,
    gateways,
    policies,
    audit,
    auditKeys,
    auditSegments,
    inputHasher,
    ...useCases,
    ...decisions,
    limitCaller: guards.limitCaller,
    loginGuard: guards.loginGuard,
    metrics,
    metricsOnMainPort: config.metricsPort === undefined,
    cookieSecret,
    csrfSecret,
    pages,
    trustedProxies: config.trustedProxies,
    certificateHeader: config.mtls.certificateHeader,
    issuer: config.issuer,
  };
  const http = await serveHttp(registry, config, options.host, lifecycle);
  logger.info({ url: http.url, issuer: config.issuer, database: db.kind }, 'Tollgate listening');
  return {
    url: http.url,
    metricsUrl,
    server: http.server,
    db,
    ring,
    oidc,
    close: () => lifecycle.close(),
  } satisfies Tollgate;
}
