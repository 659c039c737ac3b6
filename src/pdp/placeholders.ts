import { attributePathProblem, isScalar, readOwnPath, type Scalar, splitPath } from './attribute-path.ts';
import type { Subject } from './types.ts';

/**
 * A `${…}` placeholder in a rule's conditions, resolved per request from the subject or the
 * request context. the README ("Policies") allows exactly `${subject.id}`,
 * `${subject.attrs.<path>}` and `${context.<path>}`.
 */
export class Placeholder {
  /** The canonical text, e.g. `${subject.attrs.tenant}`; also its identity in cache keys. */
  readonly text: string;
  readonly source: 'subject.id' | 'subject.attrs' | 'context';
  readonly path: readonly string[];

  constructor(text: string, source: Placeholder['source'], path: readonly string[]) {
    this.text = text;
    this.source = source;
    this.path = path;
  }

  /**
   * The value for this request, or undefined when it is missing or not a scalar. Callers treat
   * undefined as "this rule cannot apply" — never as a wildcard — and an object value is never
   * spliced into conditions, where `{ "$ne": null }` would become an operator.
   */
  resolve(subject: Subject, context: Record<string, unknown> | undefined): Scalar | undefined {
    let value: unknown;
    if (this.source === 'subject.id') value = subject.id;
    else if (this.source === 'subject.attrs') value = readOwnPath(subject.attrs, this.path);
    else value = readOwnPath(context, this.path);
    return isScalar(value) ? value : undefined;
  }
}

const ALLOWED = `\${subject.id}, \${subject.attrs.<path>} or \${context.<path>}`;
const WHOLE = /^\$\{([^{}]*)\}$/;

/** Whether a string in a policy is meant as a placeholder (and must then be a valid one). */
export function looksLikePlaceholder(value: string): boolean {
  return value.includes('${');
}

/** Parses a placeholder string; returns a problem message when it is not an allowed one. */
export function parsePlaceholder(value: string): Placeholder | { problem: string } {
  const match = WHOLE.exec(value);
  if (!match)
    return { problem: `a placeholder must be the whole value, like "\${subject.id}" (got "${value}")` };
  const inner = match[1]!;
  if (inner === 'subject.id') return new Placeholder(value, 'subject.id', []);
  for (const [prefix, source] of [
    ['subject.attrs.', 'subject.attrs'],
    ['context.', 'context'],
  ] as const) {
    if (!inner.startsWith(prefix)) continue;
    const path = inner.slice(prefix.length);
    const problem = attributePathProblem(path);
    if (problem) return { problem: `placeholder "${value}": ${problem}` };
    return new Placeholder(value, source, splitPath(path));
  }
  return { problem: `unknown placeholder "${value}" (allowed: ${ALLOWED})` };
}
