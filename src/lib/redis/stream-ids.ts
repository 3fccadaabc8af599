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

/** Order two entry ids as Redis does (by ms, then seq): negative, zero or positive. Throws on a non-id. */
export function compareEntryIds(a: string, b: string): number {
  const x = parseEntryId(a);
  const y = parseEntryId(b);
  if (!x || !y) throw new TypeError(`not a stream entry id: ${x ? b : a}`);
  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
  if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
  return 0;
}

/** The higher of two optional entry ids. */
export function maxEntryId(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareEntryIds(a, b) >= 0 ? a : b;
}

/** Milliseconds part of a stream entry id: when Redis added the entry. NaN when it is not an entry id. */
export function entryIdMs(id: string): number {
  const m = ENTRY_ID.exec(id);
  return m ? Number(m[1]) : Number.NaN;
}

/** The ISO time encoded in a stream entry id, or `undefined` when it is not one. */
export function entryIdTime(id: string): string | undefined {
  const ms = entryIdMs(id);
  return Number.isSafeInteger(ms) ? new Date(ms).toISOString() : undefined;
}
