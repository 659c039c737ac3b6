import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError } from '../common/index.ts';
import { decodeKey, envSchema } from './schema.ts';

/** DATA_DIR's directory of decision segments (embedded database only; audit/segments.ts). */
export const AUDIT_SEGMENT_DIR = 'audit-segments';

export interface Config {
  port: number;
  issuer: string;
  production: boolean;
  database:
    | { kind: 'postgres'; url: string }
    /** `template`: the cache directory for the database template; undefined is the default. */
    | { kind: 'pglite'; dataDir: string; template: string | undefined };
  /** The owner role's connection for `tollgate migrate`; the server never uses it. */
  migrationDatabaseUrl: string | undefined;
  dataDir: string;
  /** Undefined means "use (or create) the development key in dataDir". */
  keyEncryptionKey: Buffer | undefined;
  redisUrl: string | undefined;
  logLevel: string;
  policyDir: string;
  keys: { publishSeconds: number; refreshSeconds: number; rotationDays: number | undefined };
  purgeIntervalSeconds: number;
  workers: number;
  trustedProxies: string[];
  /** Client certificates from TLS-terminating proxies (oidc/mtls.ts); header undefined: off. */
  mtls: { certificateHeader: string | undefined; verifiedHeader: string };
  decideRateLimit: number;
  tokenRateLimit: number;
  clientAuth: {
    maxFailuresPerClient: number;
    maxFailuresPerIp: number;
    windowSeconds: number;
    attackAddresses: number;
  };
  login: { maxFailures: number; lockoutSeconds: number; maxFailuresPerIp: number };
  subjectTokenAudiences: string[] | undefined;
  audit: {
    bufferSize: number;
    flushMs: number;
    /** Undefined: derived from the key-encryption key. */
    key: Buffer | undefined;
    previousKeys: Buffer[];
    checkpointSeconds: number;
    /** Where the embedded database's decision segments go (audit/segments.ts); unused on PostgreSQL. */
    segmentDir: string;
  };
  /** Undefined: /metrics on the main port, for tokens with scope `metrics`. */
  metricsPort: number | undefined;
  shutdownDrainMs: number;
  decisionLog: { enabled: boolean; allowSample: number; inputs: 'full' | 'hashed' | 'off' };
  /** Branding of the login, consent, logout and error pages. */
  ui: { productName: string; logoUrl: string | undefined; accentColor: string };
}

/**
 * Parses the environment into a typed Config. Every problem is reported at once, one line per
 * variable, naming it and the value's defect but never echoing a secret.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${String(issue.path[0] ?? 'environment')}: ${issue.message}`);
  // Rules spanning variables are checked even when another variable is invalid, so a single
  // run reports every problem (the operator fixes them in one pass).
  const refresh = envSchema.shape.KEY_REFRESH_SECONDS.safeParse(present.KEY_REFRESH_SECONDS);
  const publish = envSchema.shape.KEY_PUBLISH_SECONDS.safeParse(present.KEY_PUBLISH_SECONDS);
  if (refresh.success && publish.success && refresh.data >= publish.data) {
    problems.push(
      'KEY_REFRESH_SECONDS: must be shorter than KEY_PUBLISH_SECONDS, or instances could sign before all publish',
    );
  }
  const workers = envSchema.shape.WORKERS.safeParse(present.WORKERS);
  if (workers.success && workers.data !== 1 && !present.DATABASE_URL) {
    problems.push(
      'WORKERS: the embedded database admits one process; set DATABASE_URL to run several workers',
    );
  }
  if (present.MIGRATION_DATABASE_URL && !present.DATABASE_URL) {
    problems.push(
      'MIGRATION_DATABASE_URL: only meaningful with DATABASE_URL (the service role it grants to); set both or neither',
    );
  }
  if (present.MTLS_CERTIFICATE_HEADER && !present.TRUSTED_PROXIES) {
    problems.push(
      'MTLS_CERTIFICATE_HEADER: needs TRUSTED_PROXIES, the proxies whose certificate header is believed (from anyone else it is ignored)',
    );
  }
  const production = present.NODE_ENV === 'production';
  if (production && !present.KEY_ENCRYPTION_KEY) {
    problems.push('KEY_ENCRYPTION_KEY: is required when NODE_ENV=production (try: openssl rand -base64 32)');
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;

  const dataDir = resolve(e.DATA_DIR);
  return {
    port: e.PORT,
    issuer: e.ISSUER ?? `http://localhost:${e.PORT}`,
    production,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL }
      : {
          kind: 'pglite',
          dataDir: resolve(dataDir, 'pglite'),
          template: e.CACHE_DIR ? resolve(e.CACHE_DIR) : undefined,
        },
    migrationDatabaseUrl: e.DATABASE_URL ? e.MIGRATION_DATABASE_URL : undefined,
    dataDir,
    keyEncryptionKey: e.KEY_ENCRYPTION_KEY ? decodeKey(e.KEY_ENCRYPTION_KEY) : undefined,
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    policyDir: resolve(e.POLICY_DIR),
    keys: {
      publishSeconds: e.KEY_PUBLISH_SECONDS,
      refreshSeconds: e.KEY_REFRESH_SECONDS,
      rotationDays: e.KEY_ROTATION_DAYS,
    },
    purgeIntervalSeconds: e.PURGE_INTERVAL_SECONDS,
    subjectTokenAudiences: e.SUBJECT_TOKEN_AUDIENCES?.length ? e.SUBJECT_TOKEN_AUDIENCES : undefined,
    login: {
      maxFailures: e.LOGIN_MAX_FAILURES,
      lockoutSeconds: e.LOGIN_LOCKOUT_SECONDS,
      maxFailuresPerIp: e.LOGIN_MAX_FAILURES_PER_IP,
    },
    decideRateLimit: e.DECIDE_RATE_LIMIT,
    tokenRateLimit: e.TOKEN_RATE_LIMIT,
    clientAuth: {
      maxFailuresPerClient: e.CLIENT_AUTH_MAX_FAILURES,
      maxFailuresPerIp: e.CLIENT_AUTH_MAX_FAILURES_PER_IP,
      windowSeconds: e.CLIENT_AUTH_WINDOW_SECONDS,
      attackAddresses: e.CLIENT_AUTH_ATTACK_ADDRESSES,
    },
    trustedProxies: e.TRUSTED_PROXIES ?? [],
    mtls: { certificateHeader: e.MTLS_CERTIFICATE_HEADER, verifiedHeader: e.MTLS_VERIFIED_HEADER },
    audit: {
      bufferSize: e.AUDIT_BUFFER_SIZE,
      flushMs: e.AUDIT_FLUSH_MS,
      key: e.AUDIT_KEY ? decodeKey(e.AUDIT_KEY) : undefined,
      previousKeys: (e.AUDIT_PREVIOUS_KEYS ?? []).map((v) => decodeKey(v) as Buffer),
      checkpointSeconds: e.AUDIT_CHECKPOINT_SECONDS,
      segmentDir: resolve(dataDir, AUDIT_SEGMENT_DIR),
    },
    metricsPort: e.METRICS_PORT,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    decisionLog: {
      enabled: e.DECISION_LOG === 'on',
      allowSample: e.DECISION_LOG_ALLOW_SAMPLE,
      inputs: e.DECISION_LOG_INPUTS,
    },
    workers: e.WORKERS === 'auto' ? availableParallelism() : e.WORKERS,
    ui: { productName: e.UI_PRODUCT_NAME, logoUrl: e.UI_LOGO_URL, accentColor: e.UI_ACCENT_COLOR },
  };
}
