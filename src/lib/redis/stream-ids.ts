/**
 * Stream entry ids (`<ms>-<seq>`): parsing, ordering and the time they encode. Redis orders ids by ms, then
 * seq, both unsigned 64-bit, so comparison uses bigints: string or float comparison misorders `9-0`/`10-0`
 * and loses precision past 2^53. Pure, no I/O.
 */

const ENTRY_ID = /^(\d+)-(\d+)$/;

/** Parse `<ms>-<seq>` into two bigints, or undefined when it is not a stream entry id. */
export function parseEntryId(id: string): [bigint, bigint] | undefined {
  const m = ENTRY_ID.exec(id);
  return m ? [BigInt(m[1] as string), BigInt(m[2] as string)] : undefined;
}

/** Whether `id` is shaped like a stream entry id. */
export function isEntryId(id: string): boolean {
  return ENTRY_ID.test(id);
}

/**
 * Order two entry ids as Redis does (by ms, then seq): negative, zero or positive. Throws on a non-id. On the
 * hot path (every committed batch): decimal parts without leading zeros order by length, then as text, so no
 * bigint is built unless a part has a leading zero.
 */
export function compareEntryIds(a: string, b: string): number {
  if (!ENTRY_ID.test(a) || !ENTRY_ID.test(b))
    throw new TypeError(`not a stream entry id: ${ENTRY_ID.test(a) ? b : a}`);
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  if (
    hasLeadingZero(a, 0, da) ||
    hasLeadingZero(b, 0, db) ||
    hasLeadingZero(a, da + 1, a.length) ||
    hasLeadingZero(b, db + 1, b.length)
  ) {
    const x = parseEntryId(a) as [bigint, bigint];
    const y = parseEntryId(b) as [bigint, bigint];
    if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
    if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
    return 0;
  }
  const ms = compareDecimal(a.slice(0, da), b.slice(0, db));
  return ms !== 0 ? ms : compareDecimal(a.slice(da + 1), b.slice(db + 1));
}

function hasLeadingZero(id: string, start: number, end: number): boolean {
  return end - start > 1 && id.charCodeAt(start) === 48;
}

function compareDecimal(x: string, y: string): number {
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The higher of two optional entry ids. */
export function maxEntryId(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareEntryIds(a, b) >= 0 ? a : b;
}

/** Milliseconds part of a stream entry id: when Redis added the entry. NaN when it is not an entry id. */
export function entryIdMs(id: string): number {
  // Read by character codes: called for every committed event (the end-to-end latency histogram), where a
  // regular expression's match array and substring were a tenth of what an event-log worker allocates.
  const dash = id.indexOf('-');
  if (dash < 1 || dash === id.length - 1) return Number.NaN;
  let ms = 0;
  for (let i = 0; i < id.length; i++) {
    if (i === dash) continue;
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    if (i < dash) ms = ms * 10 + digit;
  }
  // Up to 15 digits the sum is exact; beyond, Number() rounds the text as a whole, as before.
  return dash <= 15 ? ms : Number(id.slice(0, dash));
}

/** The ISO time encoded in a stream entry id, or `undefined` when it is not one. */
export function entryIdTime(id: string): string | undefined {
  const ms = entryIdMs(id);
  return Number.isSafeInteger(ms) ? new Date(ms).toISOString() : undefined;
}
