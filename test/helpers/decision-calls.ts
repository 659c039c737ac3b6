import type { DecisionCall } from '../../src/audit/index.ts';

/**
 * A /decide call of `n` checks for `subject`, as the decision engine hands it to the audit log:
 * every other one allowed, the third denied with a detail, each with its own latency.
 */
export function decisionCall(subject: string, n: number, caller = 'gw'): DecisionCall {
  return {
    caller,
    subject,
    version: 4,
    checks: Array.from({ length: n }, (_, i) => ({
      action: i % 2 ? 'read' : 'approve',
      resource: { type: 'Invoice', id: `${subject}-inv-${i}` },
    })),
    answers: Array.from({ length: n }, (_, i) =>
      i % 2
        ? { allow: true, reason: 'allowed', rule: 'invoice-read' }
        : { allow: false, reason: 'no_matching_rule', rule: null, ...(i === 2 ? { detail: 'x' } : {}) },
    ),
    latencies: Array.from({ length: n }, (_, i) => i / 10),
  };
}
