/** Where a command's result goes: exact JSON with `--json`, short lines for people otherwise. */
export interface Output {
  readonly json: boolean;
  /** Prints `value` as JSON, or the `human` lines (computed only when needed). */
  result(value: unknown, human: () => string | string[]): void;
  /** Writes text exactly as given (streams such as JSON-lines exports). */
  raw(text: string): void;
}

/** An Output writing to `stdout`. */
export function createOutput(json: boolean, stdout: { write(text: string): unknown }): Output {
  return {
    json,
    result(value, human) {
      if (json) {
        stdout.write(`${JSON.stringify(value, null, 2)}\n`);
        return;
      }
      const lines = human();
      stdout.write(`${Array.isArray(lines) ? lines.join('\n') : lines}\n`);
    },
    raw(text) {
      stdout.write(text);
    },
  };
}

/** A plain text table with padded columns; `empty` when there are no rows. */
export function table(header: string[], rows: string[][], empty: string): string[] {
  if (rows.length === 0) return [empty];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** A list cell: comma-separated, or `-` when empty. */
export function listCell(values: readonly string[] | undefined): string {
  return values && values.length > 0 ? values.join(',') : '-';
}
