import { z } from 'zod';
import type { FetchLike } from './transport.ts';

/** What `createDecider` takes; every option is documented where its default is. */
export interface DeciderOptions {
  /** Tollgate's issuer (its ISSUER), e.g. `https://auth.example.com`. */
  issuer: string;
  /** This service's client, granted scope `decide` at `urn:tollgate`. */
  clientId: string;
  clientSecret: string;
  /** Where `/decide` is served; default: the issuer. */
  url?: string;
  /** Per HTTP request (token, decision, plan), in ms; default 2000. */
  timeoutMs?: number;
  /**
   * When Tollgate is unreachable, too slow or answers 5xx: `deny` (default) answers
   * `{ allow: false, reason: 'tollgate_unavailable' }`; `throw` throws TollgateUnavailableError.
   */
  onUnavailable?: 'deny' | 'throw';
  /**
   * Keep answers for `ttlMs` (at most 60 s; a few seconds is the intent) and at most
   * `maxEntries` (default 10,000). Off by default.
   */
  cache?: { ttlMs: number; maxEntries?: number };
  /** Renew the caller token this long before it expires, in ms; default 30,000. */
  renewBeforeMs?: number;
  /** The fetch to use; default: the global one. */
  fetch?: FetchLike;
  /** The clock (ms since the epoch), for token renewal and the cache; default Date.now. */
  now?: () => number;
}

const text = z.string().min(1, 'must not be empty');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const callback = <T>() => z.custom<T>((value) => typeof value === 'function', 'must be a function');

export const deciderOptions = z
  .object({
    issuer: httpUrl,
    clientId: text,
    clientSecret: text,
    url: httpUrl.optional(),
    timeoutMs: z.int().min(1).max(60_000).default(2000),
    onUnavailable: z.enum(['deny', 'throw']).default('deny'),
    cache: z
      .object({ ttlMs: z.int().min(1).max(60_000), maxEntries: z.int().min(1).default(10_000) })
      .strict()
      .optional(),
    renewBeforeMs: z.int().min(0).default(30_000),
    fetch: callback<FetchLike>().optional(),
    now: callback<() => number>().optional(),
  })
  .strict();

/** Options checked once, at creation: a mistake fails the service's start, not its first request. */
export function parseDeciderOptions(options: DeciderOptions): z.output<typeof deciderOptions> {
  const parsed = deciderOptions.safeParse(options);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) => `${issue.path.join('.') || 'options'}: ${issue.message}`,
  );
  throw new TypeError(`createDecider: ${problems.join('; ')}`);
}
