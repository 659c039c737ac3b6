import { type DecisionData, FORMAT, FORMAT_1 } from './decision-rows.ts';

/** Reading packed decision rows (decision-rows.ts) back into one decision each. */

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

/** One decision of a packed row, as it was recorded. */
export interface UnpackedDecision {
  at: string;
  actor: string | null;
  subject: string | null;
  data: DecisionData;
}

/** A stored row's decisions, when it is a packed decision row; undefined otherwise. */
export function unpackDecisions(type: string, data: Record<string, unknown>): UnpackedDecision[] | undefined {
  if (type !== 'decision' || (data.format !== FORMAT && data.format !== FORMAT_1)) return undefined;
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
