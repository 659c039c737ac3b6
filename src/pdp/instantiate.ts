import type { Scalar } from './attribute-path.ts';
import type { ConditionTemplate, TemplateValue } from './conditions.ts';
import { Placeholder } from './placeholders.ts';

/** Placeholder text (`${subject.id}`) → its scalar value for one subject and context. */
export type PlaceholderValues = ReadonlyMap<string, Scalar | undefined>;

/**
 * Replaces every placeholder in `template` by its value. Returns undefined when any value is
 * missing: the caller then drops the rule (allow) or applies it unconditionally (deny), so a
 * missing value never turns into a condition that matches everything.
 *
 * The result uses ordinary objects (ucast only recognises operator objects whose constructor
 * is Object); their keys all come from the validated policy, never from a request.
 */
export function instantiate(
  template: ConditionTemplate,
  values: PlaceholderValues,
): Record<string, unknown> | undefined {
  const missing = { value: false };
  const out = instantiateValue(template, values, missing) as Record<string, unknown>;
  return missing.value ? undefined : out;
}

function instantiateValue(
  value: TemplateValue,
  values: PlaceholderValues,
  missing: { value: boolean },
): unknown {
  if (value instanceof Placeholder) {
    const resolved = values.get(value.text);
    if (resolved === undefined) missing.value = true;
    return resolved;
  }
  if (Array.isArray(value)) return value.map((item) => instantiateValue(item, values, missing));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as ConditionTemplate))
      out[key] = instantiateValue(item, values, missing);
    return out;
  }
  return value;
}
