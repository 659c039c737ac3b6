/**
 * Tollgate refused the request (HTTP 4xx): the caller's mistake or its credentials, in OAuth's
 * shape. `error` is the OAuth code (`invalid_request`, `invalid_client`, `insufficient_scope`…),
 * `error_description` names the offending field.
 */
export class TollgateRequestError extends Error {
  readonly error: string;
  readonly error_description: string;
  /**
   * Tollgate's HTTP status. Not `status`: Koa and Express would send that to the service's own
   * client, turning the service's misconfiguration (a wrong secret: 401) into the user's fault.
   */
  readonly httpStatus: number;

  constructor(httpStatus: number, error: string, description: string) {
    super(`${error}: ${description}`);
    this.name = 'TollgateRequestError';
    this.httpStatus = httpStatus;
    this.error = error;
    this.error_description = description;
  }
}

/**
 * Tollgate could not answer: unreachable, too slow, or a 5xx. Thrown only by a decider made
 * with `onUnavailable: 'throw'`; by default such checks are denied instead.
 */
export class TollgateUnavailableError extends Error {
  /** rate_limited: Tollgate answered 429, this service (the caller) asks too often. */
  readonly code: 'timeout' | 'unreachable' | 'server_error' | 'rate_limited';

  constructor(code: TollgateUnavailableError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TollgateUnavailableError';
    this.code = code;
  }
}

/** Why a query plan cannot be turned into SQL (planToKysely). */
export class PlanTranslationError extends Error {
  readonly code: 'unknown_attribute' | 'unsupported_operator';

  constructor(code: PlanTranslationError['code'], message: string) {
    super(message);
    this.name = 'PlanTranslationError';
    this.code = code;
  }
}
