import type { Logger } from 'pino';
import { BUILTIN_API } from '../admin/index.ts';
import type { AuditSink, InputHasher } from '../audit/index.ts';
import type { LimiterFactory } from '../common/index.ts';
import type { Config } from '../config/index.ts';
import { createDecisionEngine, type DecisionEngine } from '../decide/index.ts';
import { decisionMetrics, type Metrics } from '../http/index.ts';
import {
  type AccessTokenVerifier,
  type ApiDirectory,
  createDpopVerifier,
  createSubjectResolver,
  type UserDirectory,
} from '../oidc/index.ts';
import type { PolicyStore } from '../pdp/index.ts';

/** The decision point behind /decide, /decide/plan and forward-auth, and how it reads subjects. */
export function createDecisions(
  parts: {
    verifier: AccessTokenVerifier;
    userDirectory: UserDirectory;
    /** One-time DPoP proofs are remembered here (shared through Redis when configured). */
    limiters: LimiterFactory;
    /** The APIs, cached briefly, kept through a database outage (OidcService.decisionApis). */
    apis: Pick<ApiDirectory, 'find'>;
    policies: Pick<PolicyStore, 'current'>;
    audit: AuditSink;
    /** Hashes the decision log's recorded inputs (DECISION_LOG_INPUTS=hashed). */
    inputHasher: InputHasher;
    metrics: Metrics;
  },
  config: Pick<Config, 'subjectTokenAudiences' | 'decisionLog'>,
  logger: Logger,
): { engine: DecisionEngine; resolveSubject: ReturnType<typeof createSubjectResolver> } {
  if (!config.subjectTokenAudiences) {
    logger.warn(
      'SUBJECT_TOKEN_AUDIENCES is unset: /decide accepts subject tokens for any API registered here unless the request names subject.audience',
    );
  }
  const resolveSubject = createSubjectResolver({
    verifier: parts.verifier,
    users: parts.userDirectory,
    audiences: config.subjectTokenAudiences,
    ownAudience: BUILTIN_API.audience,
    verifyDpop: createDpopVerifier(parts.limiters),
    requiredBinding: async (audience) => (await parts.apis.find(audience))?.token_binding ?? 'none',
  });
  const { policies } = parts;
  const engine = createDecisionEngine({
    policies: () => policies.current,
    resolveSubject,
    audit: parts.audit,
    decisionLog: config.decisionLog,
    inputHasher: parts.inputHasher,
    metrics: decisionMetrics(parts.metrics),
  });
  return { engine, resolveSubject };
}
