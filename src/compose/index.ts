export { Lifecycle } from './lifecycle.ts';
export { createLogger, REDACT_PATHS } from './logger.ts';
export { type StartOptions, startTollgate, type Tollgate } from './start.ts';
export { createUseCases, type UseCases } from './use-cases.ts';
