/**
 * The `ts` field's format: the subset of ISO-8601 that every reader of the stream (JavaScript's Date, Postgres'
 * timestamptz) takes the same way, and nothing they would silently roll over or refuse later:
 *
 *   YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
 *
 * year 0001-9999 (Postgres has no year 0), a month 01-12, a day that exists in that month (leap years by the
 * Gregorian rule), hour 00-23 (no `24:00`), minute and second 00-59 (no leap second: Date cannot hold one),
 * 1-9 fraction digits, and an offset up to ±15:59 (Postgres refuses more). `Date.parse` alone is not enough:
 * it takes `2026-02-30` as March 2nd.
 */
const TS_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether `ts` is a valid envelope time. Allocation-free: it runs on every entry the worker decodes. */
export function isValidTimestamp(ts: string): boolean {
  if (!TS_PATTERN.test(ts)) return false;
  // The pattern fixed every position up to the fraction, and the offset is the last 6 characters.
  const year = digits(ts, 0, 4);
  const month = digits(ts, 5, 2);
  const day = digits(ts, 8, 2);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day > monthDays) return false;
  if (digits(ts, 11, 2) > 23 || digits(ts, 14, 2) > 59 || digits(ts, 17, 2) > 59) return false;
  if (ts.charCodeAt(ts.length - 1) === 0x5a /* Z */) return true;
  const at = ts.length - 5;
  return digits(ts, at, 2) <= 15 && digits(ts, at + 3, 2) <= 59;
}

function digits(text: string, from: number, count: number): number {
  let n = 0;
  for (let i = from; i < from + count; i++) n = n * 10 + (text.charCodeAt(i) - 0x30);
  return n;
}
