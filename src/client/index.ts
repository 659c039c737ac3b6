/**
 * Tollgate's client for services (`tollgate/client`): a decider for `POST /decide` with its own
 * caller token, Koa and Express middleware, and planToKysely for `POST /decide/plan`. Compiled
 * on its own (tsconfig.client.json): nothing here imports the server at run time.
 */
export { createDecider, type Decider } from './decider.ts';
export { PlanTranslationError, TollgateRequestError, TollgateUnavailableError } from './errors.ts';
export {
  type ExpressLikeRequest,
  type ExpressLikeResponse,
  expressPermissions,
  type KoaLikeContext,
  koaPermissions,
  type PermissionOptions,
} from './middleware.ts';
export type { DeciderOptions } from './options.ts';
export { type PlanColumns, type PlanFilter, planToKysely } from './plan-sql.ts';
export type { FetchLike } from './transport.ts';
export type * from './types.ts';
