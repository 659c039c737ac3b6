/**
 * Every failure that reaches a client carries an OAuth-style `error` code (RFC 6749 §5.2) and a
 * human description; one handler in `http/` renders them. `expose` is false for server faults so
 * their details never leave the process.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'access_denied'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'request_too_large'
  | 'too_many_requests'
  | 'unsupported_media_type'
  | 'temporarily_unavailable'
  | 'server_error';

const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  access_denied: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  request_too_large: 413,
  too_many_requests: 429,
  unsupported_media_type: 415,
  temporarily_unavailable: 503,
  server_error: 500,
};

export class TollgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  /** With `too_many_requests`: seconds until a retry may succeed (the Retry-After header). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    description: string,
    options?: { cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(description, options);
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.name = 'TollgateError';
    this.code = code;
    this.status = STATUS[code];
    this.expose = this.status < 500;
  }
}

/** Thrown when configuration cannot be used; the message is one line per offending variable. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
