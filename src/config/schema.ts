import { z } from 'zod';
import { isAddressRange } from '../common/index.ts';

/**
 * The one place that says what each environment variable means and what it defaults to.
 * Values arrive as strings; each is parsed into its typed form here and nowhere else.
 */
const port = z.coerce
  .number({ error: 'must be a port number' })
  .int('must be a whole number')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');

const seconds = (min: number) =>
  z.coerce
    .number({ error: 'must be a number of seconds' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`);

const url = (protocols: string[], hint: string) =>
  z.string().refine((value) => {
    const parsed = URL.parse(value);
    return parsed !== null && protocols.includes(parsed.protocol);
  }, hint);

/** A comma-separated list; blanks around and between items are dropped. */
/** An HTTP header name (RFC 9110 token), compared without regard to case. */
const httpHeaderName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'must be an HTTP header name such as x-ssl-client-cert')
  .transform((name) => name.toLowerCase());

const commaList = () =>
  z.string().transform((v) =>
    v
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

const KEY_HINT = 'must be 32 bytes as base64, base64url or 64 hex digits (try: openssl rand -base64 32)';
const key32 = () => z.string().refine((v) => decodeKey(v) !== undefined, KEY_HINT);

/** A whole number of things (failures, requests) of at least one. */
const count = () =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1');

export const envSchema = z.object({
  /** Listening port of the HTTP server. */
  PORT: port.default(3000),
  /** Public base URL, the `iss` of every token. Default http://localhost:$PORT. */
  ISSUER: url(['http:', 'https:'], 'must be an http(s) URL such as https://auth.example.com')
    .refine(
      (v) => !v.endsWith('/') && !v.includes('?') && !v.includes('#'),
      'must not end with / nor carry a query or fragment',
    )
    .optional(),
  /** PostgreSQL connection string; unset means the embedded database in DATA_DIR. */
  DATABASE_URL: url(['postgres:', 'postgresql:'], 'must be a postgres:// URL').optional(),
  /**
   * The owner role's connection, for `tollgate migrate` only: the server never connects with it,
   * so a compromised service holds no credentials that could alter the schema or the audit log.
   */
  MIGRATION_DATABASE_URL: url(['postgres:', 'postgresql:'], 'must be a postgres:// URL').optional(),
  /** Where the embedded database, the development key and admin.json live. */
  DATA_DIR: z.string().min(1, 'must not be empty').default('./data'),
  /**
   * Where Tollgate keeps what it can rebuild: the embedded database's template, which a new
   * DATA_DIR is copied from. Default: node_modules/.cache/tollgate in the install.
   */
  CACHE_DIR: z.string().min(1, 'must not be empty').optional(),
  /** 32-byte key (base64, base64url or hex) that encrypts signing keys at rest. */
  KEY_ENCRYPTION_KEY: key32().optional(),
  /** Redis for shared rate limits and caches across instances. */
  REDIS_URL: url(['redis:', 'rediss:'], 'must be a redis:// URL').optional(),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  /** Policies loaded into an empty policy store at start-up. */
  POLICY_DIR: z.string().min(1, 'must not be empty').default('./policies'),
  NODE_ENV: z.string().default('development'),
  /** How long a new signing key is published in JWKS before it signs (caches must see it first). */
  KEY_PUBLISH_SECONDS: seconds(1).default(600),
  /** How often an instance re-reads the key set; must be shorter than KEY_PUBLISH_SECONDS. */
  KEY_REFRESH_SECONDS: seconds(1).default(30),
  /** How often expired tokens, codes and sessions are deleted. */
  PURGE_INTERVAL_SECONDS: seconds(1).default(600),
  /**
   * Audiences a subject token must carry (comma-separated), at /decide and at forward-auth; a
   * request's `subject.audience` and a gateway's APIs narrow it further, never widen it. Unset
   * accepts a token for any API registered here (all are signed by this issuer) except
   * Tollgate's own `urn:tollgate`, unless the request or the gateway names audiences.
   */
  SUBJECT_TOKEN_AUDIENCES: commaList().optional(),
  /**
   * Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed (comma-separated).
   * Unset: the client address is the socket's, whatever headers say.
   */
  TRUSTED_PROXIES: commaList()
    .refine(
      (list) => list.every(isAddressRange),
      'must be addresses or CIDR ranges such as 10.0.0.0/8,127.0.0.1',
    )
    .optional(),
  /**
   * Mutual TLS (RFC 8705) behind a TLS-terminating proxy: the header in which a proxy in
   * TRUSTED_PROXIES passes the client certificate (NGINX: `$ssl_client_escaped_cert`). Unset:
   * no client certificates, tls_client_auth and certificate-bound tokens are off.
   */
  MTLS_CERTIFICATE_HEADER: httpHeaderName.optional(),
  /** The header in which that proxy says it verified the certificate against its CA (`SUCCESS`). */
  MTLS_VERIFIED_HEADER: httpHeaderName.default('x-ssl-client-verify'),
  /** Consecutive failed sign-ins of one username from one address before a lockout. */
  LOGIN_MAX_FAILURES: count().default(5),
  /** The first lockout; each further one doubles, up to a day. */
  LOGIN_LOCKOUT_SECONDS: seconds(1).default(60),
  /** Failed sign-ins from one address per day, any usernames, before the address is refused. */
  LOGIN_MAX_FAILURES_PER_IP: count().default(100),
  /** Failed client authentications of one client id from one address (IPv6: its /64) per window. */
  CLIENT_AUTH_MAX_FAILURES: count().default(10),
  /** Failed client authentications per address (IPv6: its /64) per window, any client ids. */
  CLIENT_AUTH_MAX_FAILURES_PER_IP: count().default(30),
  /** The window of the counters; an address over a limit waits until it ends. */
  CLIENT_AUTH_WINDOW_SECONDS: seconds(1).default(900),
  /** Distinct addresses failing as one client id within a window before it is reported as an attack (audit client_auth.attack, metric); never a lockout. */
  CLIENT_AUTH_ATTACK_ADDRESSES: count().default(5),
  /** Token requests one client may make per minute (every grant). */
  TOKEN_RATE_LIMIT: count().default(1200),
  /** Requests per second one caller may send to /decide (and /decide/plan), per instance or shared through Redis. */
  DECIDE_RATE_LIMIT: count().default(50_000),
  /** On SIGTERM, how long to keep serving (answers say Connection: close) before the listener closes. */
  SHUTDOWN_DRAIN_MS: z.coerce
    .number({ error: 'must be a number of milliseconds' })
    .int()
    .min(0)
    .max(60_000)
    .default(1000),
  /** Rotate the signing keys automatically once the active ones are this many days old. */
  KEY_ROTATION_DAYS: z.coerce
    .number({ error: 'must be a number of days' })
    .positive('must be more than 0')
    .optional(),
  /** Serve /metrics unauthenticated on this port only (for a network only Prometheus reaches). */
  METRICS_PORT: port.optional(),
  /** Audit events held in memory while the database is slow or away; beyond it they are counted. */
  AUDIT_BUFFER_SIZE: count().default(50_000),
  /** How often buffered audit events are written, in milliseconds. */
  AUDIT_FLUSH_MS: count().default(250),
  /**
   * 32-byte key that MACs the audit chain (base64, base64url or hex). Unset: derived from
   * KEY_ENCRYPTION_KEY with HKDF. The database never holds it.
   */
  AUDIT_KEY: key32().optional(),
  /** Audit keys used before a rotation (comma-separated): rows they MAC'd still verify. */
  AUDIT_PREVIOUS_KEYS: commaList()
    .refine(
      (list) => list.every((v) => decodeKey(v) !== undefined),
      'each must be 32 bytes as base64, base64url or 64 hex digits',
    )
    .optional(),
  /** How often the service logs a signed checkpoint of the audit chain's head (and at shutdown). */
  AUDIT_CHECKPOINT_SECONDS: seconds(1).default(60),
  /** Decisions of /decide and forward-auth in the audit log: on or off. */
  DECISION_LOG: z.enum(['on', 'off'], { error: 'must be on or off' }).default('on'),
  /**
   * What the decision log records decisions were made on, for policy impact previews: `full`
   * (attributes and context as given), `hashed` (every value a keyed digest: comparable, not
   * readable) or `off` (ids only). Off by default: inputs are personal data, and recording them
   * costs a logged batch of 20 checks about 14 % of its throughput on the embedded database.
   */
  DECISION_LOG_INPUTS: z
    .enum(['full', 'hashed', 'off'], { error: 'must be full, hashed or off' })
    .default('off'),
  /** Share of allowed decisions logged (0 to 1); denials are always logged. */
  DECISION_LOG_ALLOW_SAMPLE: z.coerce
    .number({ error: 'must be a number from 0 to 1' })
    .min(0, 'must be a number from 0 to 1')
    .max(1, 'must be a number from 0 to 1')
    .default(1),
  /** The product name on every page (title, heading, logo text). */
  UI_PRODUCT_NAME: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(60, 'must be at most 60 characters')
    .regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u, 'must be printable text without control characters')
    .default('Tollgate'),
  /**
   * A logo shown above every page: an https URL or a path on this origin (e.g. /brand/logo.svg,
   * served by the proxy in front). The pages' Content-Security-Policy admits exactly this URL.
   * Unset: no logo.
   */
  UI_LOGO_URL: z
    .string()
    .refine(
      isLogoUrl,
      'must be an https URL or a path starting with /, of letters, digits and - . _ ~ / % only',
    )
    .optional(),
  /** The colour of buttons and links on every page, as #rgb or #rrggbb. */
  UI_ACCENT_COLOR: z
    .string()
    .regex(/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a colour as #rgb or #rrggbb')
    .default('#2457c5'),
  /** Worker processes sharing the port (node:cluster); `auto` = one per CPU. PostgreSQL only. */
  WORKERS: z
    .union([z.literal('auto'), z.coerce.number().int().min(1).max(64)], {
      error: 'must be auto or a whole number from 1 to 64',
    })
    .default(1),
});

export type Env = z.infer<typeof envSchema>;

/**
 * A logo URL that can stand in a CSP source expression and an HTML attribute as it is: no
 * query, fragment, credentials, quotes, spaces, `;` or `,` (which would end the directive).
 */
function isLogoUrl(value: string): boolean {
  const path = /^\/(?!\/)[A-Za-z0-9._~/%-]*$/;
  if (value.startsWith('/')) return path.test(value);
  const url = URL.parse(value);
  return (
    url !== null &&
    url.protocol === 'https:' &&
    url.username === '' &&
    url.password === '' &&
    url.search === '' &&
    url.hash === '' &&
    url.href === value &&
    /^[A-Za-z0-9.-]+(:\d+)?$/.test(url.host) &&
    path.test(url.pathname)
  );
}

/** Decodes a 32-byte key from hex, base64 or base64url; undefined when it is not one. */
export function decodeKey(value: string): Buffer | undefined {
  const trimmed = value.trim();
  const candidates = /^[0-9a-fA-F]{64}$/.test(trimmed)
    ? [Buffer.from(trimmed, 'hex')]
    : [Buffer.from(trimmed, 'base64url'), Buffer.from(trimmed, 'base64')];
  return candidates.find((key) => key.length === 32);
}
