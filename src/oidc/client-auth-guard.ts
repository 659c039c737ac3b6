import Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import type { AuditSink } from '../audit/index.ts';
import { addressLimitKey, type LimiterFactory, waitSeconds } from '../common/index.ts';
import { CREDENTIAL_ROUTES, currentRoute, type RoutedContext } from './address-allow-list.ts';
import { TooManyRequests } from './token-rate-limit.ts';

export interface ClientAuthGuardOptions {
  /** Failed client authentications of one client id from one address (IPv6: its /64) per window. */
  maxFailuresPerClient: number;
  /** Failed client authentications per address (IPv6: its /64) per window, any client ids. */
  maxFailuresPerIp: number;
  windowSeconds: number;
  /** Distinct addresses failing to authenticate as one client within a window: reported as an attack. */
  attackAddresses: number;
}

export interface ClientAuthGuardHooks {
  /** A request refused with 429 (tollgate_rate_limited_total{limit="client_auth"}). */
  onLimited?: () => void;
  /** A client guessed at from many addresses (tollgate_client_auth_attacks_total). */
  onAttack?: (clientId: string) => void;
}

/** Effectively unlimited: counts kept only to be reported. */
const COUNT_ONLY = 2 ** 31 - 1;

/**
 * Stops guessing of client secrets without handing anyone a way to lock a client out (issue 9):
 * failures count per (client id, address) and per address, IPv6 by its /64, never per client id
 * alone, since client ids are public (every JWT carries one). A correct secret from an address
 * that has not been guessing keeps working while a guessing address waits out the window (429,
 * Retry-After). A client failing from many addresses is reported once per window, in the audit
 * log (`client_auth.attack`) and a metric, not locked out.
 *
 * `checkClient` runs where oidc-provider looks the client up, whatever the authentication method
 * (Basic, form post, JWT assertion), so it refuses before any secret is compared; `middleware`
 * counts the failures. Both key on the route oidc-provider resolved, not on the spelling of the path.
 */
export function clientAuthGuard(
  limiters: LimiterFactory,
  options: ClientAuthGuardOptions,
  logger: Logger,
  audit: AuditSink,
  hooks: ClientAuthGuardHooks = {},
) {
  const window = (keyPrefix: string, points: number): RateLimiterAbstract =>
    limiters({ keyPrefix, points, duration: options.windowSeconds });
  const byIp = window('client_auth_ip', options.maxFailuresPerIp);
  const byClientAndIp = window('client_auth_client_ip', options.maxFailuresPerClient);
  const sources = window('client_auth_sources', options.attackAddresses);
  const failures = window('client_auth_failures', COUNT_ONLY);
  // The client id each request looked up, for counting its failure afterwards.
  const lookedUp = new WeakMap<object, string>();

  /** Seconds `clientId` must wait at `ip` (0: it may authenticate now). */
  async function wait(clientId: string, ip: string): Promise<number> {
    const address = addressLimitKey(ip);
    const [byAddress, pair] = await Promise.all([
      byIp.get(address),
      byClientAndIp.get(pairKey(clientId, address)),
    ]);
    return Math.max(
      waitSeconds(byAddress, options.maxFailuresPerIp),
      waitSeconds(pair, options.maxFailuresPerClient),
    );
  }

  async function checkClient(clientId: string): Promise<void> {
    const ctx = Provider.ctx as RoutedContext | undefined;
    const route = currentRoute(ctx);
    if (!ctx || route === undefined || !CREDENTIAL_ROUTES.has(route)) return;
    lookedUp.set(ctx, clientId);
    const seconds = await wait(clientId, ctx.ip);
    if (seconds === 0) return;
    hooks.onLimited?.();
    audit.record({
      type: 'token.refused',
      actor: clientId,
      clientId,
      ip: ctx.ip,
      data: { route, error: 'too_many_requests', retry_after_seconds: seconds },
    });
    ctx.set('Retry-After', String(seconds));
    throw new TooManyRequests('too many failed client authentications from this address; retry later');
  }

  async function countFailure(ctx: RoutedContext, clientId: string | undefined): Promise<void> {
    const address = addressLimitKey(ctx.ip);
    const [ip, pair] = await Promise.all([
      byIp.consume(address).catch((r: RateLimiterRes) => r),
      clientId
        ? byClientAndIp.consume(pairKey(clientId, address)).catch((r: RateLimiterRes) => r)
        : undefined,
    ]);
    if (
      ip.consumedPoints === options.maxFailuresPerIp ||
      pair?.consumedPoints === options.maxFailuresPerClient
    )
      logger.warn({ ip: ctx.ip, client: clientId }, 'client authentication failures over the limit');
    // Only registered clients are watched for attacks: a made-up id has nothing to protect.
    const known = ctx.oidc?.client?.clientId;
    if (!known || known !== clientId) return;
    const total = await failures.consume(known).catch((r: RateLimiterRes) => r);
    // The first failure of this client from this address in the window adds one source.
    if (pair?.consumedPoints !== 1) return;
    const seen = await sources.consume(known).catch((r: RateLimiterRes) => r);
    if (seen.consumedPoints !== options.attackAddresses) return;
    hooks.onAttack?.(known);
    logger.warn(
      { client: known, addresses: seen.consumedPoints },
      'client secret guessed at from many addresses',
    );
    audit.record({
      type: 'client_auth.attack',
      actor: known,
      clientId: known,
      ip: ctx.ip,
      data: {
        addresses: seen.consumedPoints,
        failures: total.consumedPoints,
        window_seconds: options.windowSeconds,
      },
    });
  }

  async function guardClientAuthentication(ctx: RoutedContext, next: () => Promise<void>) {
    await next();
    const route = currentRoute(ctx);
    if (route === undefined || !CREDENTIAL_ROUTES.has(route)) return;
    const body = ctx.body as { error?: string } | undefined;
    if (ctx.status !== 401 || body?.error !== 'invalid_client') return;
    await countFailure(ctx, lookedUp.get(ctx));
  }

  return { middleware: guardClientAuthentication, checkClient, wait };
}

function pairKey(clientId: string, address: string): string {
  return `${clientId}|${address}`;
}
