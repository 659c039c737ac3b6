import Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { RateLimiterRes } from 'rate-limiter-flexible';
import type { AuditSink } from '../audit/index.ts';
import { type LimiterFactory, waitSeconds } from '../common/index.ts';
import { CREDENTIAL_PATHS } from './address-allow-list.ts';
import { TooManyRequests } from './token-rate-limit.ts';

export interface ClientAuthGuardOptions {
  /** Failed client authentications per client id per window before it is refused. */
  maxFailuresPerClient: number;
  /** Failed client authentications per address per window, any client ids. */
  maxFailuresPerIp: number;
  windowSeconds: number;
}

interface ProviderContext {
  method: string;
  path: string;
  ip: string;
  status: number;
  body: unknown;
  get(field: string): string;
  set(field: string, value: string): void;
  oidc?: { params?: { client_id?: unknown } };
}

/**
 * Stops guessing of client secrets: after too many failed client authentications from an
 * address, or of one client id, further attempts get 429 with Retry-After until the window
 * ends, the right secret included. `middleware` (oidc-provider) counts failures and refuses
 * early by address and by a client id in HTTP Basic; `checkClient` runs where oidc-provider
 * looks the client up, so a client id sent in the form body or a JWT assertion is refused too.
 */
export function clientAuthGuard(
  limiters: LimiterFactory,
  options: ClientAuthGuardOptions,
  logger: Logger,
  audit: AuditSink,
  onLimited: () => void = () => {},
) {
  const byIp = limiters({
    keyPrefix: 'client_auth_ip',
    points: options.maxFailuresPerIp,
    duration: options.windowSeconds,
  });
  const byClient = limiters({
    keyPrefix: 'client_auth_client',
    points: options.maxFailuresPerClient,
    duration: options.windowSeconds,
  });

  async function checkClient(clientId: string): Promise<void> {
    const ctx = Provider.ctx;
    if (ctx?.method !== 'POST' || !CREDENTIAL_PATHS.has(ctx.path)) return;
    const wait = waitSeconds(await byClient.get(clientId), options.maxFailuresPerClient);
    if (wait === 0) return;
    onLimited();
    ctx.set('Retry-After', String(wait));
    throw new TooManyRequests('too many failed client authentications; retry later');
  }

  async function guardClientAuthentication(ctx: ProviderContext, next: () => Promise<void>) {
    if (ctx.method !== 'POST' || !CREDENTIAL_PATHS.has(ctx.path)) return next();
    const basicId = clientIdFromBasic(ctx.get('authorization'));
    const waits = [
      waitSeconds(await byIp.get(ctx.ip), options.maxFailuresPerIp),
      basicId ? waitSeconds(await byClient.get(basicId), options.maxFailuresPerClient) : 0,
    ];
    const wait = Math.max(...waits);
    if (wait > 0) {
      onLimited();
      audit.record({
        type: 'token.refused',
        actor: basicId,
        clientId: basicId,
        ip: ctx.ip,
        data: { route: ctx.path, error: 'too_many_requests', retry_after_seconds: wait },
      });
      ctx.status = 429;
      ctx.set('Retry-After', String(wait));
      ctx.body = {
        error: 'too_many_requests',
        error_description: 'too many failed client authentications; retry later',
      };
      return;
    }
    await next();
    const body = ctx.body as { error?: string } | undefined;
    if (ctx.status !== 401 || body?.error !== 'invalid_client') return;
    const named = ctx.oidc?.params?.client_id;
    const clientId = basicId ?? (typeof named === 'string' ? named : undefined);
    const consumed = await Promise.all([
      byIp.consume(ctx.ip).catch((r: RateLimiterRes) => r),
      clientId ? byClient.consume(clientId).catch((r: RateLimiterRes) => r) : undefined,
    ]);
    if (
      consumed[0]?.consumedPoints === options.maxFailuresPerIp ||
      consumed[1]?.consumedPoints === options.maxFailuresPerClient
    ) {
      logger.warn({ ip: ctx.ip, client: clientId }, 'client authentication failures over the limit');
    }
  }

  return { middleware: guardClientAuthentication, checkClient };
}

function clientIdFromBasic(header: string): string | undefined {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    // RFC 6749 §2.3.1: the id is form-encoded before it is put into Basic.
    return decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
