import type { CallInputs, DecisionCall } from './types.ts';

/**
 * Decision inputs in the decision log (DECISION_LOG_INPUTS, issue 13): what a policy impact
 * preview replays. A call line (decision-rows.ts) carries them as one more element, written once
 * per call: [mode, roles, subject attrs, context | null, [[resource attrs | null, field | null]
 * per check]], mode `full` or `hashed:<key id>` (input-hash.ts). Read back, each decision holds
 * its own `input` (DecisionInput), so the audit API and exports show what it was decided on.
 */
export type InputsTuple = [string, readonly string[], unknown, unknown, [unknown, string | null][]];

/** A decision's inputs as read back from the log (`data.input` of a `decision` event). */
export interface DecisionInput {
  mode: 'full' | 'hashed';
  /** hashed: the id of the key the values were hashed under. */
  key?: string;
  roles: string[];
  subject_attrs: Record<string, unknown>;
  resource_attrs?: Record<string, unknown>;
  field?: string;
  context?: Record<string, unknown>;
}

const HASHED = 'hashed:';

/** A call's inputs element, or undefined when it records none. */
export function inputsTuple(call: DecisionCall): InputsTuple | undefined {
  const { inputs } = call;
  if (!inputs) return undefined;
  return [
    inputs.mode === 'hashed' ? `${HASHED}${inputs.key}` : 'full',
    inputs.roles,
    inputs.attrs,
    inputs.context ?? null,
    call.checks.map((check) => [check.resource.attrs ?? null, check.field ?? null]),
  ];
}

/** The inputs of the call's `index`th decision; undefined when the line has none. */
export function decisionInput(tuple: unknown, index: number): DecisionInput | undefined {
  if (!Array.isArray(tuple)) return undefined;
  const [mode, roles, attrs, context, checks] = tuple as InputsTuple;
  // Read back from storage: anything but this shape is no inputs (a reader then counts it so).
  if (typeof mode !== 'string' || !Array.isArray(roles) || !Array.isArray(checks)) return undefined;
  const check = checks[index];
  const [resourceAttrs, field] = Array.isArray(check) ? check : [null, null];
  const hashed = mode.startsWith(HASHED);
  return {
    mode: hashed ? 'hashed' : 'full',
    ...(hashed ? { key: mode.slice(HASHED.length) } : {}),
    roles: [...roles],
    subject_attrs: attrs as Record<string, unknown>,
    ...(resourceAttrs === null ? {} : { resource_attrs: resourceAttrs as Record<string, unknown> }),
    ...(field === null ? {} : { field }),
    ...(context === null ? {} : { context: context as Record<string, unknown> }),
  };
}

/** A decision's recorded inputs as a call of that one decision has them (decision-rows.ts: eventLine). */
export function callOfInput(input: DecisionInput | undefined): {
  inputs?: CallInputs;
  attrs?: unknown;
  field?: string;
} {
  if (!input) return {};
  return {
    inputs: {
      mode: input.mode,
      key: input.key,
      roles: input.roles,
      attrs: input.subject_attrs,
      context: input.context,
    },
    attrs: input.resource_attrs,
    field: input.field,
  };
}

const INPUT_KEYS = new Set(['mode', 'key', 'roles', 'subject_attrs', 'resource_attrs', 'field', 'context']);

const isObject = (value: unknown): boolean =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Whether `input` has exactly DecisionInput's shape, so that packing it into a line and reading
 * it back gives the same (decision-rows.ts: packable); anything else keeps a row of its own.
 */
export function packableInput(input: unknown): boolean {
  if (!isObject(input)) return false;
  const i = input as Partial<DecisionInput>;
  for (const key in i) if (!INPUT_KEYS.has(key)) return false;
  if (i.mode === 'full' ? i.key !== undefined : i.mode !== 'hashed' || typeof i.key !== 'string')
    return false;
  if (!Array.isArray(i.roles) || !i.roles.every((role) => typeof role === 'string')) return false;
  if (!isObject(i.subject_attrs)) return false;
  if (i.resource_attrs !== undefined && !isObject(i.resource_attrs)) return false;
  if (i.context !== undefined && !isObject(i.context)) return false;
  return i.field === undefined || typeof i.field === 'string';
}
