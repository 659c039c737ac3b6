/**
 * Whether a string can be stored and looked up as PostgreSQL text exactly as given (issue 9).
 * PostgreSQL refuses NUL in text and jsonb (SQLSTATE 22021, 22P05), and an unpaired UTF-16
 * surrogate has no UTF-8 form: the driver would silently store U+FFFD instead. Such a value can
 * never name anything stored, so callers answer "not found" or refuse it without a query.
 */
export function isStorableText(value: string): boolean {
  return value.isWellFormed() && !value.includes('\0');
}

/** What a refused value's error says, after the field name. */
export const UNSTORABLE_TEXT = 'must not contain NUL characters or unpaired UTF-16 surrogates';
