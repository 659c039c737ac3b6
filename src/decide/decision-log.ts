import { type AuditSink, type DecisionCall, type InputHasher, recordDecisionCall } from '../audit/index.ts';
import type { Subject } from '../pdp/index.ts';

export interface DecisionLogSettings {
  /** Off entirely, or allows kept with probability `allowSample` (denials always). */
  enabled: boolean;
  allowSample: number;
  /**
   * What decisions were made on, for policy impact previews (DECISION_LOG_INPUTS): the subject's
   * roles and attributes, each resource's attributes and field, and the context, as given or
   * with every value hashed (audit/input-hash.ts), or nothing beyond the ids.
   */
  inputs: 'full' | 'hashed' | 'off';
}

/** The inputs a call's checks shared; none when the subject was refused (nothing was evaluated). */
export interface SharedInputs {
  subject: Subject;
  context: Record<string, unknown> | undefined;
}

export type LogDecisions = (call: DecisionCall, shared?: SharedInputs) => void;

/**
 * The decision log: one `decision` audit event per decision made, whichever transport asked,
 * handed to the audit log a call at a time (AuditSink.recordDecisions). Recording is a push
 * onto the audit writer's buffer; nothing here waits for storage. The inputs go in by
 * reference and are made into the call's line of JSON before the request's handler returns
 * (audit/decision-rows.ts: callLine), so nothing later can change what was recorded.
 */
export function decisionLog(
  audit: AuditSink,
  settings: DecisionLogSettings,
  hasher: InputHasher | undefined,
): LogDecisions {
  if (settings.inputs === 'hashed' && !hasher) throw new Error('hashed decision inputs need an input hasher');
  return (call, shared) => {
    if (!settings.enabled) return;
    let kept = settings.allowSample < 1 ? sampled(call, settings.allowSample) : call;
    if (kept.checks.length === 0) return;
    if (shared && settings.inputs === 'full')
      kept = { ...kept, inputs: { mode: 'full', ...subjectInputs(shared) } };
    else if (shared && settings.inputs === 'hashed') kept = hashed(kept, shared, hasher as InputHasher);
    recordDecisionCall(audit, kept);
  };
}

const subjectInputs = ({ subject, context }: SharedInputs) => ({
  roles: subject.roles,
  attrs: subject.attrs,
  context,
});

/** The call with its inputs hashed: every attribute and context value a digest (input-hash.ts). */
function hashed(call: DecisionCall, shared: SharedInputs, hasher: InputHasher): DecisionCall {
  const { roles, attrs, context } = subjectInputs(shared);
  return {
    ...call,
    checks: call.checks.map(({ action, resource, field }) => ({
      action,
      resource: {
        type: resource.type,
        id: resource.id,
        attrs: resource.attrs === undefined ? undefined : hasher.tree(resource.attrs),
      },
      field,
    })),
    inputs: {
      mode: 'hashed',
      key: hasher.key,
      roles,
      attrs: hasher.tree(attrs),
      context: context === undefined ? undefined : hasher.tree(context),
    },
  };
}

/** The call with each allow kept with probability `share`; denials always stay. */
function sampled(call: DecisionCall, share: number): DecisionCall {
  const keep = call.answers.map((answer) => !answer.allow || Math.random() < share);
  const pick = <T>(list: readonly T[]) => list.filter((_, i) => keep[i]);
  return { ...call, checks: pick(call.checks), answers: pick(call.answers), latencies: pick(call.latencies) };
}
