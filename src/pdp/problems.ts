import type { z } from 'zod';
import type { Report } from './conditions.ts';
import type { PolicyProblem } from './types.ts';
import type { YamlSource } from './yaml-source.ts';

/**
 * Collects the problems of a whole policy set, so an author fixes them in one pass (as Cerbos'
 * compiler does): every problem names its file, the rule when inside one, the dotted field and
 * the line.
 */
export class ProblemList {
  readonly #problems: PolicyProblem[] = [];

  get size(): number {
    return this.#problems.length;
  }

  add(problem: PolicyProblem): void {
    this.#problems.push(problem);
  }

  /** A `Report` for paths inside one file; `ruleOf` names the rule a path falls in. */
  reporter(
    file: string,
    source: YamlSource,
    ruleOf: (path: readonly (string | number)[]) => string | undefined,
  ): Report {
    return (path, message) => {
      const problem: PolicyProblem = { file, message };
      const rule = ruleOf(path);
      if (rule !== undefined) problem.rule = rule;
      if (path.length > 0) problem.field = path.join('.');
      const line = source.lineOf(path);
      if (line !== undefined) problem.line = line;
      this.add(problem);
    };
  }

  /** Sorted by file, then position in the file (rules appear in order), then field. */
  sorted(): PolicyProblem[] {
    return [...this.#problems].sort(
      (a, b) =>
        compare(a.file, b.file) ||
        (a.line ?? 0) - (b.line ?? 0) ||
        compare(a.field ?? '', b.field ?? '') ||
        compare(a.message, b.message),
    );
  }
}

/** One problem as a line: `invoice.yaml [read-own] rules.0.when.tenant: unknown placeholder …`. */
export function formatProblem(problem: Pick<PolicyProblem, 'file' | 'rule' | 'field' | 'message'>): string {
  const rule = problem.rule ? ` [${problem.rule}]` : '';
  const field = problem.field ? ` ${problem.field}` : '';
  return `${problem.file}${rule}${field}: ${problem.message}`;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Reports zod's issues with messages a policy author understands. */
export function reportSchemaIssues(error: z.ZodError, report: Report): void {
  for (const issue of error.issues) {
    const path = issue.path.map((key) => (typeof key === 'number' ? key : String(key)));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) report([...path, key], `unknown key "${key}"`);
    } else if (issue.input === undefined) {
      // With reportInput, an absent value is the one case where input is undefined.
      report(
        path,
        issue.code === 'invalid_type' ? `is required (${issue.expected})` : `is required; ${issue.message}`,
      );
    } else {
      report(path, issue.message);
    }
  }
}
