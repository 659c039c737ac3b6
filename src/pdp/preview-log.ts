import { setImmediate as nextTurn } from 'node:timers/promises';
import type { DecisionInput } from '../audit/index.ts';
import type { Scalar } from './attribute-path.ts';
import { type HashedPolicySet, hashedPolicySet } from './hashed-replay.ts';
import type { CompiledPolicySet } from './policy-set.ts';
import { bySubject, type PreviewReport, PreviewTally } from './preview.ts';
import type { DecisionRequest } from './types.ts';

/** A decision as the decision log recorded it (audit's `decision` events): what a replay needs. */
export interface RecordedDecision {
  subject: string | null;
  data: { action: string; resource: { type: string; id?: string }; input?: RecordedInput | undefined };
}

/**
 * What a decision was made on, as the log recorded it (audit/decision-inputs.ts); absent when
 * it recorded none (DECISION_LOG_INPUTS=off, a refused subject token).
 */
export type RecordedInput = DecisionInput;

/** The hasher the log's hashed inputs were made with (audit/input-hash.ts). */
export interface ReplayHasher {
  key: string;
  scalar(value: Scalar): string;
}

/** A preview of recorded decisions: the replay's report, and what could not be replayed and why. */
export interface LogPreviewReport extends PreviewReport {
  /** Decisions read from the log. */
  read: number;
  skipped: {
    /** Recorded without inputs: DECISION_LOG_INPUTS=off, or a subject token that was refused. */
    no_inputs: number;
    /** Hashed under another key than this deployment's (the key-encryption key changed). */
    other_key: number;
    /** Hashed, about a resource type whose rules order values (`hashed.ordered_rules`), by type. */
    ordered: Record<string, number>;
  };
  /** Of `replayed`, those replayed from hashed inputs, and the rules digests cannot judge. */
  hashed: { replayed: number; ordered_rules: Record<string, string[]> };
}

/** Replays between turns of the event loop: a preview must not hold up the decisions being served. */
const SLICE = 2000;

/**
 * Policy impact preview over the decision log (issue 13): reads the recorded decisions, replays
 * those with inputs against the current set and the candidate (previewChange's semantics, a
 * subject at a time), and says what it could not replay. Hashed inputs are replayed against the
 * sets with their literals hashed alike (hashed-replay.ts), which decides exactly as on the
 * values for equality-only rules; decisions about a type with an ordering rule in either set are
 * skipped and counted, never guessed.
 */
export async function previewRecorded(
  current: CompiledPolicySet,
  candidate: CompiledPolicySet,
  pages: AsyncIterable<readonly RecordedDecision[]>,
  options: { examples?: number; hasher: ReplayHasher },
): Promise<LogPreviewReport> {
  const { hasher } = options;
  const skipped: LogPreviewReport['skipped'] = { no_inputs: 0, other_key: 0, ordered: {} };
  const full: DecisionRequest[] = [];
  const hashed: DecisionRequest[] = [];
  let read = 0;
  for await (const records of pages) {
    read += records.length;
    for (const { subject, data } of records) {
      const { input } = data;
      if (!input || subject === null) skipped.no_inputs += 1;
      else if (input.mode === 'hashed' && input.key !== hasher.key) skipped.other_key += 1;
      else (input.mode === 'hashed' ? hashed : full).push(requestOf(subject, data, input));
    }
  }

  const tally = new PreviewTally(options.examples ?? 3);
  await inSlices(bySubject(full), (request) => tally.replay(current, candidate, request));
  const orderedRules: Record<string, string[]> = {};
  let hashedReplayed = 0;
  if (hashed.length > 0) {
    const hash = (value: Scalar) => hasher.scalar(value);
    const sets = [hashedPolicySet(current, hash), hashedPolicySet(candidate, hash)] as const;
    for (const [type, rules] of orderedIn(sets)) orderedRules[type] = rules;
    await inSlices(bySubject(hashed), (request) => {
      const type = request.resource.type;
      if (orderedRules[type]) {
        skipped.ordered[type] = (skipped.ordered[type] ?? 0) + 1;
        return;
      }
      hashedReplayed += 1;
      tally.replay(sets[0].set, sets[1].set, request, hashIds(request, hash));
    });
  }
  return {
    ...tally.report(),
    read,
    skipped,
    hashed: { replayed: hashedReplayed, ordered_rules: orderedRules },
  };
}

function requestOf(subject: string, data: RecordedDecision['data'], input: RecordedInput): DecisionRequest {
  return {
    subject: { id: subject, roles: input.roles, attrs: input.subject_attrs },
    action: data.action,
    resource: {
      type: data.resource.type,
      ...(data.resource.id === undefined ? {} : { id: data.resource.id }),
      ...(input.resource_attrs === undefined ? {} : { attrs: input.resource_attrs }),
    },
    ...(input.field === undefined ? {} : { field: input.field }),
    ...(input.context === undefined ? {} : { context: input.context }),
  };
}

/** Ids are recorded as they are (they are in the log anyway); conditions on them compare digests. */
function hashIds(request: DecisionRequest, hash: (value: Scalar) => string): DecisionRequest {
  const { resource } = request;
  return {
    ...request,
    subject: { ...request.subject, id: hash(request.subject.id) },
    resource: resource.id === undefined ? resource : { ...resource, id: hash(resource.id) },
  };
}

/** Every type either set has ordering rules for, with the rules of both. */
function orderedIn(sets: readonly HashedPolicySet[]): Map<string, string[]> {
  const all = new Map<string, string[]>();
  for (const { ordered } of sets)
    for (const [type, rules] of ordered) all.set(type, [...new Set([...(all.get(type) ?? []), ...rules])]);
  return all;
}

async function inSlices<T>(items: readonly T[], each: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    each(items[i] as T);
    if ((i + 1) % SLICE === 0) await nextTurn();
  }
}
