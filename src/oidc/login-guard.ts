import { type RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { addressLimitKey, type LimiterFactory, waitSeconds } from '../common/index.ts';

export interface LoginGuardOptions {
  /** Consecutive failures for one username from one address before a lockout. */
  maxFailures: number;
  /** The first lockout; each further one doubles, up to a day. */
  lockoutSeconds: number;
  /** Failures from one address, any usernames, per day (slow brute force, credential stuffing). */
  maxFailuresPerIp: number;
}

export type LoginVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const DAY = 24 * 3600;

/**
 * Brute-force protection for the login form (OWASP Authentication Cheat Sheet): a growing
 * lockout of a username from an address after consecutive failures, and a daily ceiling of
 * failures per address. Counters live in rate-limiter-flexible's limiters, never hand-rolled.
 */
export class LoginGuard {
  readonly #options: LoginGuardOptions;
  readonly #consecutive: RateLimiterAbstract;
  readonly #lockouts: RateLimiterAbstract;
  readonly #perIp: RateLimiterAbstract;

  /** `limiters`: in memory, or in Redis when REDIS_URL is set so lockouts hold across instances. */
  constructor(options: LoginGuardOptions, limiters: LimiterFactory) {
    this.#options = options;
    this.#consecutive = limiters({
      keyPrefix: 'login_user_ip',
      points: options.maxFailures,
      duration: DAY,
    });
    this.#lockouts = limiters({ keyPrefix: 'login_lockouts', points: 64, duration: DAY });
    this.#perIp = limiters({
      keyPrefix: 'login_ip',
      points: options.maxFailuresPerIp,
      duration: DAY,
    });
  }

  /** Checked before the password is even looked at: a locked-out attempt costs nothing. */
  async check(username: string, ip: string): Promise<LoginVerdict> {
    const [user, address] = await Promise.all([
      this.#consecutive.get(key(username, ip)),
      this.#perIp.get(addressLimitKey(ip)),
    ]);
    const waits = [
      // block() and overruns leave the count above the limit.
      waitSeconds(user, this.#options.maxFailures + 1),
      waitSeconds(address, this.#options.maxFailuresPerIp + 1),
    ].filter((s) => s > 0);
    return waits.length === 0 ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.max(...waits) };
  }

  /** Counts a failure; answers whether this failure started a lockout. */
  async recordFailure(username: string, ip: string): Promise<LoginVerdict> {
    await this.#perIp.consume(addressLimitKey(ip)).catch(() => undefined);
    const userKey = key(username, ip);
    const result = await this.#consecutive.consume(userKey).catch((rejected: unknown) => rejected);
    if (!(result instanceof RateLimiterRes) || result.consumedPoints < this.#options.maxFailures) {
      return this.check(username, ip);
    }
    const lockouts = await this.#lockouts.consume(userKey).catch((rejected: RateLimiterRes) => rejected);
    const seconds = Math.min(DAY, this.#options.lockoutSeconds * 2 ** (lockouts.consumedPoints - 1));
    await this.#consecutive.block(userKey, seconds);
    return { allowed: false, retryAfterSeconds: seconds };
  }

  /** A success clears the consecutive failures (the lockout history stays for the day). */
  async recordSuccess(username: string, ip: string): Promise<void> {
    await this.#consecutive.delete(key(username, ip));
  }
}

/** IPv6 counts by its /64 (issue 9): one host holds the whole prefix. */
function key(username: string, ip: string): string {
  return `${username.toLowerCase()}|${addressLimitKey(ip)}`;
}
