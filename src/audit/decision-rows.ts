import {
  callOfInput,
  type DecisionInput,
  decisionInput,
  inputsTuple,
  packableInput,
} from './decision-inputs.ts';
import { dataText } from './stored-text.ts';
import type { AuditEvent, AuditSink, DecisionCall } from './types.ts';

/**
 * Decisions are the one event recorded at request rate: thousands a second behind a busy
 * gateway, where every other kind comes at human rate. One row per decision made the database
 * insert the largest cost of a logged /decide answer, and the embedded database's cost per
 * stored byte (its wire protocol in JavaScript, WAL, compression) came next. So each call (one
 * /decide request, one forward-auth check) becomes one line of JSON on the request thread, where
 * JSON.stringify makes it for about what handing its fields over cost, and the writer only joins
 * lines: up to DECISIONS_PER_ROW (decision-row.ts) decisions, whole calls, share one `decision` row, like Cerbos's
 * decision log keeps one entry per call. On the embedded database with a data directory the
 * lines go to an append-only segment file and the row holds their digest (segments.ts);
 * otherwise the row holds the lines (`decisions/3`). Either way the row is MAC'd and chained
 * like any other, and the readers expand it back into one event per decision with exactly the
 * data it was recorded with (packed-rows.ts, docs/architecture.md 3.6).
 */

/** What the decision log records for one decision (decide/decision-log.ts). */
export interface DecisionData {
  action: string;
  resource: { type: string; id?: string };
  allow: boolean;
  reason: string;
  detail?: string;
  rule: string | null;
  version: number;
  latency_us: number;
  /** What it was decided on, when the log records inputs (decision-inputs.ts). */
  input?: DecisionInput;
}

export interface Recorded {
  event: AuditEvent;
  at: Date;
}

/**
 * A call as one line of JSON: [at (ms since the epoch), caller, subject, version, decisions,
 * inputs?], each decision [action, type, id, allow (1/0), reason, rule, latency_us, detail?],
 * absent strings null; inputs as decision-inputs.ts writes them. Strings are made storable
 * (stored-text.ts) as in any other row.
 */
export type CallLine = [number, string | null, string | null, number, DecisionTuple[], unknown?];
type DecisionTuple = [string, string, string | null, 0 | 1, string, string | null, number, string?];

/** A call's line (see CallLine). */
export function callLine(call: DecisionCall, at: number): string {
  const { checks, answers, latencies } = call;
  const decisions = new Array<DecisionTuple>(checks.length);
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i] as DecisionCall['checks'][number];
    const answer = answers[i] as DecisionCall['answers'][number];
    const tuple: DecisionTuple = [
      check.action,
      check.resource.type,
      check.resource.id ?? null,
      answer.allow ? 1 : 0,
      answer.reason,
      answer.rule,
      latencies[i] as number,
    ];
    // An empty detail is none, as decisionEvents has it.
    if (answer.detail) tuple.push(answer.detail);
    decisions[i] = tuple;
  }
  const line: CallLine = [at, call.caller ?? null, call.subject ?? null, call.version, decisions];
  const inputs = inputsTuple(call);
  if (inputs) line.push(inputs);
  return dataText(line);
}

/** A packable event (see packable) as the line of a call of one decision. */
export function eventLine(event: AuditEvent, at: number): string {
  const d = event.data as unknown as DecisionData;
  const { inputs, attrs, field } = callOfInput(d.input);
  return callLine(
    {
      caller: event.actor,
      subject: event.subject,
      version: d.version,
      checks: [{ action: d.action, resource: { ...d.resource, attrs }, field }],
      answers: [{ allow: d.allow, reason: d.reason, rule: d.rule, detail: d.detail }],
      latencies: [d.latency_us],
      inputs,
    },
    at,
  );
}

/** Rounds seconds to the tenth of a microsecond the log keeps. */
export const latencyMicros = (seconds: number): number => Math.round(seconds * 1e7) / 10;

/** A call's decisions as events of their own (a sink without recordDecisions takes them so). */
export function decisionEvents(call: DecisionCall): AuditEvent[] {
  return call.checks.map((check, i) => {
    const answer = call.answers[i] as DecisionCall['answers'][number];
    return {
      type: 'decision',
      actor: call.caller,
      subject: call.subject,
      data: {
        action: check.action,
        resource: { type: check.resource.type, id: check.resource.id },
        allow: answer.allow,
        reason: answer.reason,
        ...(answer.detail ? { detail: answer.detail } : {}),
        rule: answer.rule,
        version: call.version,
        latency_us: call.latencies[i] as number,
        ...(call.inputs ? { input: decisionInput(inputsTuple(call), i) } : {}),
      },
    };
  });
}

/** Gives a call's decisions to `sink`: at once where it takes calls, else event by event. */
export function recordDecisionCall(sink: AuditSink, call: DecisionCall): void {
  if (sink.recordDecisions) sink.recordDecisions(call);
  else for (const event of decisionEvents(call)) sink.record(event);
}

/** One decision of a call line, as it was recorded. */
export interface UnpackedDecision {
  at: string;
  actor: string | null;
  subject: string | null;
  data: DecisionData;
}

/** The decisions of a parsed call line (see CallLine). */
export function lineDecisions([
  at,
  actor,
  subject,
  version,
  decisions,
  inputs,
]: CallLine): UnpackedDecision[] {
  const when = new Date(at).toISOString();
  return decisions.map(([action, type, id, allow, reason, rule, latency, detail], i) => ({
    at: when,
    actor,
    subject,
    data: {
      action,
      resource: typeof id === 'string' ? { type, id } : { type },
      allow: allow === 1,
      reason,
      ...(detail === undefined ? {} : { detail }),
      rule,
      version,
      latency_us: latency,
      ...(inputs === undefined ? {} : { input: decisionInput(inputs, i) }),
    },
  }));
}

/** A decision read back from its line, as the event it was recorded as. */
export function decisionRecord({ at, actor, subject, data }: UnpackedDecision): Recorded {
  return {
    event: {
      type: 'decision',
      actor: actor ?? undefined,
      subject: subject ?? undefined,
      data: data as unknown as Record<string, unknown>,
    },
    at: new Date(at),
  };
}

const DATA_KEYS = new Set([
  'action',
  'resource',
  'allow',
  'reason',
  'detail',
  'rule',
  'version',
  'latency_us',
  'input',
]);

/**
 * A decision as the decision log records it, and nothing else: anything with another shape
 * (or a client id or address) keeps a row of its own, so expanding gives back exactly what was
 * recorded.
 */
export function packable(event: AuditEvent): boolean {
  if (event.type !== 'decision' || event.clientId !== undefined || event.ip !== undefined) return false;
  const d = event.data as Partial<DecisionData> | undefined;
  if (!d || typeof d.action !== 'string' || typeof d.allow !== 'boolean' || typeof d.reason !== 'string')
    return false;
  if (typeof d.version !== 'number' || typeof d.latency_us !== 'number') return false;
  if (!Number.isFinite(d.version) || !Number.isFinite(d.latency_us)) return false;
  if (d.rule !== null && typeof d.rule !== 'string') return false;
  // An empty detail would come back as none (callLine).
  if (d.detail !== undefined && (typeof d.detail !== 'string' || d.detail === '')) return false;
  const r = d.resource;
  if (!r || typeof r.type !== 'string' || (r.id !== undefined && typeof r.id !== 'string')) return false;
  for (const key in r) if (key !== 'type' && key !== 'id') return false;
  for (const key in d) if (!DATA_KEYS.has(key)) return false;
  return d.input === undefined || packableInput(d.input);
}
