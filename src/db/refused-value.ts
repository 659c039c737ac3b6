/**
 * Whether the database refused a query because of a value in it (issue 9): SQLSTATE class 22
 * "data exception" (22021 character_not_in_repertoire for NUL, 22P02 invalid text
 * representation, 22P05 untranslatable character, 22001 value too long, 22003 numeric value out
 * of range, 22007/22008 bad date-time) and 54000 program_limit_exceeded (a value too large for
 * an index). Values come from clients, so the answer is 400 invalid_request, never 500; the
 * boundary schemas should have refused the value first, so each such error is logged.
 */
export function isRefusedValue(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 5; depth++) {
    const { code } = cause as { code?: unknown };
    if (typeof code === 'string' && (/^22[0-9A-Z]{3}$/.test(code) || code === '54000')) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}
