import type { CompiledPolicySet } from './policy-set.ts';
import type { Decision, DecisionRequest } from './types.ts';

/** One group of flips: the same resource type, the same rule change, the same direction. */
export interface FlipGroup {
  resource: string;
  /** The rule that decided under the current set, null under default deny. */
  from_rule: string | null;
  /** The rule that decides under the candidate set, null under default deny. */
  to_rule: string | null;
  change: 'allow→deny' | 'deny→allow';
  count: number;
  /** The first requests that flipped this way, in replay order (subject by subject). */
  examples: DecisionRequest[];
}

export interface PreviewReport {
  /** Requests replayed against both sets. */
  replayed: number;
  /** Requests whose answer (allow or deny) differs, all groups together. */
  flipped: number;
  /** Same answer, another deciding rule: not a flip, but the candidate reaches it otherwise. */
  rule_changed: number;
  /** Requests about a resource type one of the sets has no policy for, by type. */
  unknown_types: Record<string, number>;
  /** Largest groups first; ties by resource type, then rules. */
  flips: FlipGroup[];
}

export interface PreviewOptions {
  /** Examples kept per group (default 3). */
  examples?: number;
}

/**
 * Policy impact preview: replays requests (recorded decisions' inputs) against the current set
 * and a candidate, and groups the decisions that would flip by resource type, old rule → new
 * rule and direction, with a few example requests each. Both sets decide: the recorded answer
 * may come from an older version than the current one. A type either set lacks is counted,
 * never a flip: the candidate set's validation reports missing types on its own.
 *
 * The replay behind `tollgate policy preview` (issue 13; the recording of decision inputs it
 * reads comes with it). bench/preview.ts: about 150,000 requests a second on one core for a log
 * of 2,000 users, a third of that when nearly every request is another user's (each user's
 * abilities are built once per set).
 */
export function previewChange(
  current: CompiledPolicySet,
  candidate: CompiledPolicySet,
  requests: Iterable<DecisionRequest>,
  options: PreviewOptions = {},
): PreviewReport {
  const tally = new PreviewTally(options.examples ?? 3);
  for (const request of bySubject(requests)) tally.replay(current, candidate, request);
  return tally.report();
}

/**
 * The running count of a preview: requests are replayed one at a time (the log's replay,
 * preview-log.ts, yields to the event loop between slices), and the report is made at the end.
 */
export class PreviewTally {
  readonly #keep: number;
  readonly #groups = new Map<string, FlipGroup>();
  readonly #report: PreviewReport = {
    replayed: 0,
    flipped: 0,
    rule_changed: 0,
    unknown_types: {},
    flips: [],
  };

  constructor(examples: number) {
    this.#keep = examples;
  }

  /**
   * Decides `request` under both sets and counts the outcome; `evaluated`, when given, is what
   * the sets are asked instead (the hashed form of a hashed record), `request` the example shown.
   */
  replay(
    current: CompiledPolicySet,
    candidate: CompiledPolicySet,
    request: DecisionRequest,
    evaluated = request,
  ): void {
    const report = this.#report;
    report.replayed += 1;
    const type = request.resource.type;
    if (!current.hasResource(type) || !candidate.hasResource(type)) {
      report.unknown_types[type] = (report.unknown_types[type] ?? 0) + 1;
      return;
    }
    const before = current.decide(evaluated);
    const after = candidate.decide(evaluated);
    if (before.allow === after.allow) {
      if (before.rule !== after.rule) report.rule_changed += 1;
      return;
    }
    report.flipped += 1;
    const key = groupKey(type, before, after);
    let group = this.#groups.get(key);
    if (!group) {
      group = {
        resource: type,
        from_rule: before.rule,
        to_rule: after.rule,
        change: before.allow ? 'allow→deny' : 'deny→allow',
        count: 0,
        examples: [],
      };
      this.#groups.set(key, group);
    }
    group.count += 1;
    if (group.examples.length < this.#keep) group.examples.push(request);
  }

  /** The report so far: largest groups first. */
  report(): PreviewReport {
    const flips = [...this.#groups.values()].sort(
      (a, b) =>
        b.count - a.count ||
        a.resource.localeCompare(b.resource) ||
        String(a.from_rule).localeCompare(String(b.from_rule)) ||
        String(a.to_rule).localeCompare(String(b.to_rule)),
    );
    return { ...this.#report, unknown_types: { ...this.#report.unknown_types }, flips };
  }
}

// Unambiguous: a rule may be called "null", which default deny (null) must not share.
const groupKey = (type: string, before: Decision, after: Decision) =>
  JSON.stringify([type, before.rule, after.rule, before.allow]);

/**
 * The requests, each subject's together, in the order subjects first appear: the sets' ability
 * caches (ability-cache.ts) then build a subject's abilities once and reuse them for all its
 * requests, where a log's interleaving of thousands of subjects makes them miss and rebuild.
 */
export function bySubject<T extends DecisionRequest>(requests: Iterable<T>): T[] {
  const groups = new Map<string, T[]>();
  for (const request of requests) {
    const id = String(request.subject.id);
    const group = groups.get(id);
    if (group) group.push(request);
    else groups.set(id, [request]);
  }
  return [...groups.values()].flat();
}
