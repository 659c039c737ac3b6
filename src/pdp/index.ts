/**
 * The policy decision point: policy model, validation, compiling to CASL and evaluation — pure,
 * no HTTP, no SQL — and the policy store. planToKysely is the service client's (src/client),
 * re-exported here for the server's own uses.
 */

export { type PlanColumns, type PlanFilter, planToKysely } from '../client/index.ts';
export type { AbilityCacheStats } from './ability-cache.ts';
export { type CompileResult, compilePolicySet } from './compile.ts';
export { ALLOWED_OPERATORS } from './conditions.ts';
export { PlanTranslationError, UnknownResourceTypeError } from './errors.ts';
export { policyJsonSchemas } from './json-schema.ts';
export type { CompiledPolicySet, PolicySetOptions } from './policy-set.ts';
export {
  PolicySetRejected,
  PolicyStore,
  type PolicyVersionSummary,
  type PushOutcome,
  readPolicyDir,
} from './policy-store.ts';
export { formatTestFailures, runPolicyTests } from './policy-tests.ts';
export { type FlipGroup, type PreviewOptions, type PreviewReport, previewChange } from './preview.ts';
export {
  type LogPreviewReport,
  previewRecorded,
  type RecordedDecision,
  type ReplayHasher,
} from './preview-log.ts';
export { formatProblem } from './problems.ts';
export { isPolicySetFile, isPolicyTestFile } from './test-file.ts';
export type * from './types.ts';
