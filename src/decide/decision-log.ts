import type { AuditSink } from '../audit/index.ts';
import type { Check, Decision } from '../pdp/index.ts';

export interface DecisionLogSettings {
  /** Off entirely, or allows kept with probability `allowSample` (denials always). */
  enabled: boolean;
  allowSample: number;
}

export type LogDecision = (
  caller: string,
  subject: string | undefined,
  check: Check,
  decision: Decision & { detail?: string },
  seconds: number,
) => void;

/**
 * The decision log: one `decision` audit event per decision made, whichever transport asked.
 * Recording is a push onto the audit writer's buffer; nothing here waits for storage.
 */
export function decisionLog(audit: AuditSink, settings: DecisionLogSettings): LogDecision {
  return (caller, subject, check, decision, seconds) => {
    if (!settings.enabled) return;
    if (decision.allow && settings.allowSample < 1 && Math.random() >= settings.allowSample) return;
    audit.record({
      type: 'decision',
      actor: caller,
      subject,
      data: {
        action: check.action,
        resource: { type: check.resource.type, id: check.resource.id },
        allow: decision.allow,
        reason: decision.reason,
        ...(decision.detail ? { detail: decision.detail } : {}),
        rule: decision.rule,
        version: decision.policy.version,
        latency_us: Math.round(seconds * 1e7) / 10,
      },
    });
  };
}
