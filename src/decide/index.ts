/**
 * The decision point, transport-neutral: `check` (POST /decide), `plan` (POST /decide/plan) and
 * `decideRoute` (forward-auth), each validating, timing, counting and logging its decisions.
 */
export type { DecisionLogSettings } from './decision-log.ts';
export {
  createDecisionEngine,
  type DecisionEngine,
  type DecisionMetrics,
  type EngineDeps,
  EXPLAIN_SCOPES,
  type RouteOutcome,
} from './engine.ts';
export { type RouteMatch, RouteTable } from './route-table.ts';
export { bodiesFor } from './schema.ts';
