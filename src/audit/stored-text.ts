/**
 * Text as the audit table stores it and the chain hashes it. PostgreSQL refuses NUL in text and
 * JSON refuses lone surrogates (JSON.stringify writes them as \ud8xx escapes), either failing the
 * whole batch on every retry; both become U+FFFD.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what it looks for
const UNSTORABLE = /[\u0000\uD800-\uDFFF]/;
const UNSTORABLE_ESCAPE = /\\u(0000|d[89a-f])/i;

/** A string as PostgreSQL and the hash accept it. */
export function storable(value: string): string {
  if (!UNSTORABLE.test(value)) return value;
  return value.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

/** `storable` for an optional column. */
export function storableOrNull(value: string | undefined): string | null {
  return value === undefined ? null : storable(value);
}

/** The data as JSON text, strings made storable; this exact text is stored and hashed. */
export function dataText(data: object): string {
  let text: string;
  try {
    text = JSON.stringify(data);
  } catch (error) {
    // A BigInt or a cycle must not fail every retry of the batch (or kill the writer): the
    // event is kept, with why its data is not.
    return JSON.stringify({ unserializable: error instanceof Error ? error.message : String(error) });
  }
  // Almost always clean: only then is the data walked again, string by string.
  if (!UNSTORABLE_ESCAPE.test(text)) return text;
  return JSON.stringify(data, (_key, value: unknown) =>
    typeof value === 'string' ? storable(value) : value,
  );
}
