import { type AuditSink, type DecisionCall, recordDecisionCall } from '../audit/index.ts';

export interface DecisionLogSettings {
  /** Off entirely, or allows kept with probability `allowSample` (denials always). */
  enabled: boolean;
  allowSample: number;
}

export type LogDecisions = (call: DecisionCall) => void;

/**
 * The decision log: one `decision` audit event per decision made, whichever transport asked,
 * handed to the audit log a call at a time (AuditSink.recordDecisions). Recording is a push
 * onto the audit writer's buffer; nothing here waits for storage.
 */
export function decisionLog(audit: AuditSink, settings: DecisionLogSettings): LogDecisions {
  return (call) => {
    if (!settings.enabled) return;
    const kept = settings.allowSample < 1 ? sampled(call, settings.allowSample) : call;
    if (kept.checks.length > 0) recordDecisionCall(audit, kept);
  };
}

/** The call with each allow kept with probability `share`; denials always stay. */
function sampled(call: DecisionCall, share: number): DecisionCall {
  const keep = call.answers.map((answer) => !answer.allow || Math.random() < share);
  const pick = <T>(list: readonly T[]) => list.filter((_, i) => keep[i]);
  return { ...call, checks: pick(call.checks), answers: pick(call.answers), latencies: pick(call.latencies) };
}
