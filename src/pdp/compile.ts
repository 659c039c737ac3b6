import type { CompiledResource } from './model.ts';
import { compilePolicyFile } from './policy-file.ts';
import { CompiledPolicySet, type PolicySetOptions } from './policy-set.ts';
import { ProblemList } from './problems.ts';
import { compileTestFile, isPolicySetFile, isPolicyTestFile } from './test-file.ts';
import type { PolicyFile, PolicyProblem, PolicyTestCase } from './types.ts';
import { parseYaml, type YamlSource } from './yaml-source.ts';

export type CompileResult =
  | { ok: true; set: CompiledPolicySet; tests: PolicyTestCase[] }
  | { ok: false; problems: PolicyProblem[] };

/**
 * Validates and compiles a policy set: `*.yaml`/`*.yml` files are policies (one resource type
 * each), `*.test.yaml`/`*.test.yml` files their test cases; other names are ignored. Either
 * everything is valid and the set comes back ready to decide, with the test cases to run, or
 * every problem comes back at once, sorted by file and position — an invalid set never
 * replaces a valid one. Files are taken in name order, which fixes rule order across files.
 */
export function compilePolicySet(
  files: PolicyFile[],
  version: number,
  options?: PolicySetOptions,
): CompileResult {
  const problems = new ProblemList();
  const sorted = [...files]
    .filter((file) => isPolicySetFile(file.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const sources = new Map<string, YamlSource>();
  for (const file of sorted) {
    if (sources.has(file.name)) {
      problems.add({ file: file.name, message: 'the file appears twice in the set' });
      continue;
    }
    const parsed = parseYaml(file.content);
    if (parsed.ok) sources.set(file.name, parsed.source);
    else
      for (const { line, message } of parsed.errors)
        problems.add({ file: file.name, message, ...lineOf(line) });
  }
  // An empty set is valid: it knows no resource type (the store starts from one).
  const policyNames = sorted.map((file) => file.name).filter((name) => !isPolicyTestFile(name));

  const resources: CompiledResource[] = [];
  const typeFiles = new Map<string, string>();
  const ruleFiles = new Map<string, string>();
  const routeFiles = new Map<string, string>();
  let order = 0;
  for (const name of policyNames) {
    const source = sources.get(name);
    if (!source) continue;
    const result = compilePolicyFile(name, source, order, problems);
    order += result.ids.length;
    const at = (path: (string | number)[], rule?: string) => ({
      file: name,
      field: path.join('.'),
      ...(rule === undefined ? {} : { rule }),
      ...lineOf(source.lineOf(path)),
    });
    if (result.type !== undefined) {
      const other = typeFiles.get(result.type);
      if (other)
        problems.add({
          ...at(['resource']),
          message: `resource type "${result.type}" is already defined in ${other}`,
        });
      else typeFiles.set(result.type, name);
    }
    for (const { id, index } of result.ids) {
      const other = ruleFiles.get(id);
      if (other)
        problems.add({
          ...at(['rules', index, 'id'], id),
          message: `duplicate rule id "${id}" (also in ${other})`,
        });
      else ruleFiles.set(id, name);
    }
    for (const { route, index } of result.routes) {
      const key = `${route.method} ${route.path}`;
      const other = routeFiles.get(key);
      if (other)
        problems.add({
          ...at(['routes', index, 'match']),
          message: `route "${key}" is already defined in ${other}`,
        });
      else routeFiles.set(key, name);
    }
    if (result.resource) resources.push(result.resource);
  }

  const knownTypes = new Set(typeFiles.keys());
  const tests: PolicyTestCase[] = [];
  for (const name of sorted.map((file) => file.name).filter(isPolicyTestFile)) {
    const source = sources.get(name);
    if (source) tests.push(...compileTestFile(name, source, knownTypes, problems));
  }

  if (problems.size > 0) return { ok: false, problems: problems.sorted() };
  return { ok: true, set: new CompiledPolicySet(resources, version, options), tests };
}

const lineOf = (line: number | undefined): { line?: number } => (line === undefined ? {} : { line });
