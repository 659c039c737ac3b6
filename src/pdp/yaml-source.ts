import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';

/** A parsed YAML file that can tell on which line a value (or key) sits, for error messages. */
export interface YamlSource {
  value: unknown;
  lineOf(path: readonly (string | number)[]): number | undefined;
}

export type YamlParseResult =
  | { ok: true; source: YamlSource }
  | { ok: false; errors: { line: number | undefined; message: string }[] };

// Far above what a policy needs, far below what makes an alias bomb expensive.
const MAX_ALIAS_COUNT = 100;

/** Parses one YAML document; syntax errors (duplicate keys included) come back with lines. */
export function parseYaml(content: string): YamlParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(content, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0)
    return {
      ok: false,
      errors: doc.errors.map((error) => ({
        line: lines.linePos(error.pos[0]).line,
        message: `YAML syntax error: ${error.message}`,
      })),
    };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    return { ok: false, errors: [{ line: undefined, message: `YAML error: ${(error as Error).message}` }] };
  }
  const lineOf = (path: readonly (string | number)[]): number | undefined => {
    const offset = locate(doc.contents as Node | null, path);
    return offset === undefined ? undefined : lines.linePos(offset).line;
  };
  return { ok: true, source: { value, lineOf } };
}

/** Start offset of the key at `path` (or of the deepest node on the way when it is absent). */
function locate(root: Node | null, path: readonly (string | number)[]): number | undefined {
  let node: Node | null = root;
  let offset = root?.range?.[0];
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}
