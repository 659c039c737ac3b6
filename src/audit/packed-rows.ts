import { INLINE_FORMAT } from './decision-row.ts';
import { type CallLine, lineDecisions, type UnpackedDecision } from './decision-rows.ts';

/**
 * Reading packed decision rows (decision-rows.ts) back into one decision each: the rows that
 * hold their calls' lines (decisions/3), and the layouts written before it, a table of strings
 * and tuples of indexes (decisions/2: a tuple per call; decisions/1: a tuple per decision).
 * Rows whose lines are in a segment are read by reader.ts (segments.ts).
 */

const FORMAT = 'decisions/2';
const FORMAT_1 = 'decisions/1';

/**
 * A packed row's data as stored, strings except ids as indexes into `strings` (-1: none).
 * decisions/2: each call [ms after `at`, actor, subject, version, decisions], each decision
 * [action, type, id, allow (1/0), reason, rule, latency_us, detail?].
 * decisions/1: each decision [ms after `at`, actor, subject, action, type, id, allow, reason,
 * rule, version, latency_us, detail?].
 */
interface PackedData {
  format: typeof FORMAT | typeof FORMAT_1;
  at: string;
  strings: string[];
  calls?: [number, number, number, number, (number | string | null)[][]][];
  decisions?: (number | string | null)[][];
}

/** A stored row's decisions, when it is a packed decision row; undefined otherwise. */
export function unpackDecisions(type: string, data: Record<string, unknown>): UnpackedDecision[] | undefined {
  if (type !== 'decision') return undefined;
  if (data.format === INLINE_FORMAT) return callsDecisions(data.calls);
  if (data.format !== FORMAT && data.format !== FORMAT_1) return undefined;
  const { at, strings, calls, decisions } = data as unknown as PackedData;
  const base = Date.parse(at);
  const text = (i: unknown) => (typeof i === 'number' && i >= 0 ? (strings[i] ?? null) : null);
  const decision = (
    when: string,
    actor: unknown,
    subject: unknown,
    version: unknown,
    [action, type, id, allow, reason, rule, latency, detail]: unknown[],
  ): UnpackedDecision => {
    const detailText = text(detail);
    return {
      at: when,
      actor: text(actor),
      subject: text(subject),
      data: {
        action: text(action) ?? '',
        resource: typeof id === 'string' ? { type: text(type) ?? '', id } : { type: text(type) ?? '' },
        allow: allow === 1,
        reason: text(reason) ?? '',
        ...(detailText === null ? {} : { detail: detailText }),
        rule: text(rule),
        version: Number(version),
        latency_us: Number(latency),
      },
    };
  };
  if (data.format === FORMAT_1) {
    return (decisions ?? []).map((t) =>
      decision(new Date(base + Number(t[0])).toISOString(), t[1], t[2], t[9], [
        t[3],
        t[4],
        t[5],
        t[6],
        t[7],
        t[8],
        t[10],
        t[11],
      ]),
    );
  }
  return (calls ?? []).flatMap(([dt, actor, subject, version, made]) => {
    const when = new Date(base + Number(dt)).toISOString();
    return made.map((t) => decision(when, actor, subject, version, t));
  });
}

/** The decisions of parsed call lines (decisions/3 rows, segment chunks). */
export function callsDecisions(calls: unknown): UnpackedDecision[] {
  return Array.isArray(calls) ? (calls as CallLine[]).flatMap(lineDecisions) : [];
}

/** The decisions of a segment chunk: its lines of JSON, one call each. */
export function chunkDecisions(text: string): UnpackedDecision[] {
  const calls: unknown[] = [];
  for (const line of text.split('\n')) if (line !== '') calls.push(JSON.parse(line));
  return callsDecisions(calls);
}
