import { attributePathProblem, isScalar } from './attribute-path.ts';
import { looksLikePlaceholder, type Placeholder, parsePlaceholder } from './placeholders.ts';

/**
 * Checks a rule's `when` (MongoDB-style conditions, the README, "Policies") and turns it into a
 * template whose placeholders are `Placeholder` objects. Only operators that the strict
 * matcher (matcher.ts) and the SQL translation (kysely-plan.ts) both implement are accepted:
 * `$regex` (backtracking on caller-supplied strings), `$where` (code) and `$elemMatch` are not.
 */

type OperandKind = 'scalar' | 'comparable' | 'list' | 'non-empty list' | 'boolean' | 'count';

const FIELD_OPERATORS: Readonly<Record<string, OperandKind>> = {
  $eq: 'scalar',
  $ne: 'scalar',
  $gt: 'comparable',
  $gte: 'comparable',
  $lt: 'comparable',
  $lte: 'comparable',
  $in: 'list',
  $nin: 'list',
  $all: 'non-empty list',
  $exists: 'boolean',
  $size: 'count',
};

const COMPOUND_OPERATORS: ReadonlySet<string> = new Set(['$and', '$or', '$nor']);

/** Every operator a policy may use, for messages and documentation. */
export const ALLOWED_OPERATORS: readonly string[] = [...Object.keys(FIELD_OPERATORS), ...COMPOUND_OPERATORS];

/** Conditions with placeholders still unresolved; plain JSON otherwise. */
export type ConditionTemplate = { readonly [key: string]: TemplateValue };
export type TemplateValue =
  | string
  | number
  | boolean
  | null
  | Placeholder
  | readonly TemplateValue[]
  | ConditionTemplate;

export type Report = (path: readonly (string | number)[], message: string) => void;

export interface CheckedConditions {
  template: ConditionTemplate;
  placeholders: Placeholder[];
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Validates `when` (as parsed from YAML, untouched by the schema library). */
export function checkConditions(when: unknown, report: Report): CheckedConditions {
  const placeholders = new Map<string, Placeholder>();
  const template = checkDocument(when, [], report, placeholders);
  return { template, placeholders: [...placeholders.values()] };
}

function checkDocument(
  value: unknown,
  path: readonly (string | number)[],
  report: Report,
  found: Map<string, Placeholder>,
): ConditionTemplate {
  const out: Record<string, TemplateValue> = {};
  if (!isPlainObject(value)) {
    report(path, 'conditions must be a mapping of attribute → value or operators');
    return out;
  }
  for (const key of Object.keys(value)) {
    const here = [...path, key];
    const operand = value[key];
    if (COMPOUND_OPERATORS.has(key)) {
      if (!Array.isArray(operand) || operand.length === 0) {
        report(here, `${key} needs a non-empty list of conditions`);
        continue;
      }
      out[key] = operand.map((item, i) => checkDocument(item, [...here, i], report, found));
    } else if (key.startsWith('$')) {
      report(
        here,
        key in FIELD_OPERATORS
          ? `operator ${key} must be applied to an attribute, e.g. amount: { ${key}: … }`
          : unknownOperator(key),
      );
    } else {
      const problem = attributePathProblem(key);
      if (problem) report(here, problem);
      else out[key] = checkFieldCondition(operand, here, report, found);
    }
  }
  return out;
}

function checkFieldCondition(
  value: unknown,
  path: readonly (string | number)[],
  report: Report,
  found: Map<string, Placeholder>,
): TemplateValue {
  if (Array.isArray(value)) {
    report(
      path,
      'a list needs an operator: { $in: [...] } for one of them, { $all: [...] } for an array attribute',
    );
    return null;
  }
  if (!isPlainObject(value)) return checkOperand(value, 'scalar', path, report, found);
  const keys = Object.keys(value);
  if (keys.length === 0 || keys.some((key) => !key.startsWith('$'))) {
    report(path, 'nested documents are not supported; use operators, or a dotted path such as owner.id');
    return null;
  }
  const out: Record<string, TemplateValue> = {};
  for (const key of keys) {
    const kind = FIELD_OPERATORS[key];
    if (kind === undefined) {
      report(
        [...path, key],
        COMPOUND_OPERATORS.has(key) ? `${key} is only allowed at document level` : unknownOperator(key),
      );
    } else {
      out[key] = checkOperand(value[key], kind, [...path, key], report, found);
    }
  }
  return out;
}

function checkOperand(
  value: unknown,
  kind: OperandKind,
  path: readonly (string | number)[],
  report: Report,
  found: Map<string, Placeholder>,
): TemplateValue {
  if (kind === 'list' || kind === 'non-empty list') {
    if (!Array.isArray(value) || (kind === 'non-empty list' && value.length === 0)) {
      report(path, `expects a ${kind} of values`);
      return null;
    }
    return value.map((item, i) => checkOperand(item, 'scalar', [...path, i], report, found));
  }
  if (typeof value === 'string' && looksLikePlaceholder(value)) {
    if (kind === 'boolean' || kind === 'count') {
      report(path, `expects a ${kind}, not a placeholder`);
      return null;
    }
    const parsed = parsePlaceholder(value);
    if ('problem' in parsed) {
      report(path, parsed.problem);
      return null;
    }
    const known = found.get(parsed.text) ?? parsed;
    found.set(known.text, known);
    return known;
  }
  if (operandFits(value, kind)) return value as TemplateValue;
  report(path, `expects ${describeKind(kind)}, got ${JSON.stringify(value) ?? typeof value}`);
  return null;
}

function operandFits(value: unknown, kind: OperandKind): boolean {
  switch (kind) {
    case 'scalar':
      return value === null || isScalar(value);
    case 'comparable':
      return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
    case 'boolean':
      return typeof value === 'boolean';
    default:
      return Number.isSafeInteger(value) && (value as number) >= 0;
  }
}

function describeKind(kind: OperandKind): string {
  if (kind === 'scalar') return 'a string, number, boolean or null';
  if (kind === 'comparable') return 'a string or a number';
  if (kind === 'boolean') return 'true or false';
  return 'a non-negative integer';
}

function unknownOperator(key: string): string {
  return `unknown operator ${key} (allowed: ${ALLOWED_OPERATORS.join(' ')})`;
}
