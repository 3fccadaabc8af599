import { compareBytes } from '../../lib/byte-order.ts';

/**
 * The decide form of a pipeline (docs/pipelines.md#decide): `decide(event)` returns effects, rows to merge
 * into tables the pipeline declared with a merge rule per column. This module is the pure part: the types and
 * the fold of a batch's effects into one row per (table, key), in key order. The runtime check of what `decide`
 * returned is in check-effects.ts, the SQL that writes the folded rows in upsert-sql.ts.
 */

/**
 * How an incoming value merges into the stored one (and into earlier values of the same batch):
 * - `set`: the latest wins (stream order);
 * - `add`: summed (integers: number, bigint or a decimal string; the sum is a bigint);
 * - `max` / `min`: the greatest / least (numbers compare as numbers, strings by code point, as `COLLATE "C"`);
 * - `keep-first`: the first value ever written stays (an insert sets it, an update never changes it);
 * - `{ maxBy: ['c1', ...] }`: the value comes from whichever row has the greater tuple (c1, ..., this column),
 *   compared on the values before merging: "the amount of the event that set the highest status".
 */
export type MergeRule = 'set' | 'add' | 'max' | 'min' | 'keep-first' | { readonly maxBy: readonly string[] };

export const MERGE_RULES = ['set', 'add', 'max', 'min', 'keep-first'] as const;

/** One table a decide pipeline writes: its conflict key and how each other column merges. */
export interface TableSpec {
  /** The columns of its primary key or a unique constraint (the `ON CONFLICT` target). */
  readonly key: readonly string[];
  /** Every column an effect gives besides the key, with its rule. Each effect gives all of them. */
  readonly merge: Readonly<Record<string, MergeRule>>;
  /**
   * Bookkeeping columns set to `now()` when a row is updated (`updated_at`). Not part of effects or proofs
   * (the clock is not the event's), and left out of `replay --into-schema` comparisons.
   */
  readonly touch?: readonly string[];
}

export type EffectValue = string | number | bigint | boolean | null;

/** One row change returned by `decide`: merge `values` into the row of `table` with this `key`. */
export interface Effect {
  table: string;
  key: Readonly<Record<string, EffectValue>>;
  values: Readonly<Record<string, EffectValue>>;
}

/**
 * What `decide` gets besides the event. Empty today. Reserved for a recorded enrichment (data looked up
 * before the transaction and stored with the event), so that a replay passes `decide` the same input.
 */
export interface DecideContext {
  readonly enrichment?: unknown;
}

/** A folded row: the key and merged values, in the table's column order (key columns, then merge columns). */
export interface FoldedRow {
  key: EffectValue[];
  values: EffectValue[];
}

export interface FoldedTable {
  table: string;
  spec: TableSpec;
  keyColumns: readonly string[];
  valueColumns: readonly string[];
  /** One row per key, sorted by key (code-point order; numbers numerically). */
  rows: FoldedRow[];
}

/** What toBigInt accepts, without making the bigint. */
export function isIntegerValue(v: EffectValue): boolean {
  if (typeof v === 'bigint') return true;
  if (typeof v === 'number') return Number.isSafeInteger(v);
  return typeof v === 'string' && INTEGER_TEXT.test(v);
}

const INTEGER_TEXT = /^-?[0-9]{1,30}$/;

/** An integer value as a bigint; undefined for anything else. */
export function toBigInt(v: EffectValue): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (typeof v === 'string' && INTEGER_TEXT.test(v)) return BigInt(v);
  return undefined;
}

/**
 * Order of values: numbers and bigints numerically, strings by code point (what Postgres' `COLLATE "C"`
 * does on UTF-8), booleans false < true; values of different kinds by kind. A total order: the fold's row
 * order and the max/min rules rely on it.
 */
export function compareValues(a: EffectValue, b: EffectValue): number {
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  const ka = rank(a);
  const kb = rank(b);
  if (ka !== kb) return ka - kb;
  if (ka === 1) {
    const x = a as number | bigint;
    const y = b as number | bigint;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (ka === 2) return compareCodePoints(a as string, b as string);
  if (ka === 3) return Number(a) - Number(b);
  return 0;
}

function rank(v: EffectValue): number {
  if (typeof v === 'number' || typeof v === 'bigint') return 1;
  if (typeof v === 'string') return 2;
  if (typeof v === 'boolean') return 3;
  return 0;
}

/**
 * Code-point order, which is UTF-8 byte order (UTF-16 comparison differs only between astral characters and
 * U+E000-U+FFFF): the fold's sort and every proof use it, as the statements' row order does.
 */
export const compareCodePoints = compareBytes;

function compareTuples(
  a: readonly EffectValue[],
  b: readonly EffectValue[],
  compare: (x: EffectValue, y: EffectValue) => number,
): number {
  for (let i = 0; i < a.length; i++) {
    const c = compare(a[i] as EffectValue, b[i] as EffectValue);
    if (c !== 0) return c;
  }
  return 0;
}

/**
 * Merge `incoming` into `current` (both in `valueColumns` order) by the rules, every rule seeing the values
 * before this merge, as `ON CONFLICT DO UPDATE` sees the stored row and `EXCLUDED`. Pure.
 */
export function mergeValues(
  spec: TableSpec,
  valueColumns: readonly string[],
  current: readonly EffectValue[],
  incoming: readonly EffectValue[],
): EffectValue[] {
  // A loop, not map with a closure: the fold calls this for every effect on a key already seen in the batch.
  const out = new Array<EffectValue>(valueColumns.length);
  for (let i = 0; i < valueColumns.length; i++) {
    const rule = spec.merge[valueColumns[i] as string] as MergeRule;
    out[i] = mergeOne(rule, valueColumns, current, incoming, i);
  }
  return out;
}

function mergeOne(
  rule: MergeRule,
  valueColumns: readonly string[],
  current: readonly EffectValue[],
  incoming: readonly EffectValue[],
  i: number,
): EffectValue {
  const old = current[i] as EffectValue;
  const now = incoming[i] as EffectValue;
  switch (rule) {
    case 'set':
      return now;
    case 'keep-first':
      return old;
    case 'add':
      return addValues(old, now);
    case 'max':
      return compareValues(now, old) > 0 ? now : old;
    case 'min':
      return compareValues(now, old) < 0 ? now : old;
    default: {
      // The tuples (maxBy..., this column) compared in place: no arrays per merge.
      let c = 0;
      for (let b = 0; c === 0 && b < rule.maxBy.length; b++) {
        const j = valueColumns.indexOf(rule.maxBy[b] as string);
        c = compareValues(incoming[j] as EffectValue, current[j] as EffectValue);
      }
      return (c === 0 ? compareValues(now, old) : c) > 0 ? now : old;
    }
  }
}

/** A sum of two integers: a number while it stays a safe integer, else a bigint (exact either way). */
export function addValues(a: EffectValue, b: EffectValue): number | bigint {
  if (typeof a === 'number' && typeof b === 'number') {
    const sum = a + b;
    if (Number.isSafeInteger(sum)) return sum;
  }
  return (toBigInt(a) as bigint) + (toBigInt(b) as bigint);
}

/**
 * Fold a batch's effects (checked, in stream order) into one row per (table, key): what one `INSERT ... ON
 * CONFLICT DO UPDATE` per table can write (it may not touch a row twice). Tables come out sorted by name and
 * rows by key, so concurrent workers lock rows in one order and cannot deadlock each other. Pure.
 */
export function foldEffects(
  effects: Iterable<Effect>,
  tables: Readonly<Record<string, TableSpec>>,
): FoldedTable[] {
  const byTable = new Map<string, TableFold>();
  for (const effect of effects) {
    let entry = byTable.get(effect.table);
    if (!entry) {
      const spec = tables[effect.table] as TableSpec;
      const valueColumns = Object.keys(spec.merge);
      const folded: FoldedTable = { table: effect.table, spec, keyColumns: spec.key, valueColumns, rows: [] };
      entry = {
        folded,
        rows: new Map(),
        adds: valueColumns.map((c) => spec.merge[c] === 'add'),
        utf16Order: true,
      };
      byTable.set(effect.table, entry);
    }
    const { folded, rows, adds } = entry;
    const key = pickColumns(effect.key, folded.keyColumns);
    const values = pickColumns(effect.values, folded.valueColumns);
    const id = rowId(key);
    const seen = rows.get(id);
    if (seen) seen.values = mergeValues(folded.spec, folded.valueColumns, seen.values, values);
    else {
      // `add` starts from the event's own value (as an insert does): a decimal string becomes a bigint.
      for (let i = 0; i < values.length; i++)
        if (adds[i] === true && typeof values[i] === 'string')
          values[i] = toBigInt(values[i] as EffectValue) as bigint;
      rows.set(id, { key, values });
      if (entry.utf16Order) entry.utf16Order = !key.some(isHighString);
    }
  }
  const out: FoldedTable[] = [];
  for (const entry of byTable.values()) {
    const { folded, rows } = entry;
    folded.rows = [...rows.values()].sort(rowOrder(folded.keyColumns.length, entry.utf16Order));
    out.push(folded);
  }
  return out.sort((a, b) => compareCodePoints(a.table, b.table));
}

interface TableFold {
  folded: FoldedTable;
  /** Rows by rowId(key), in first-seen order. */
  rows: Map<string, FoldedRow>;
  /** Per value column: whether its rule is `add`. */
  adds: boolean[];
  /** No key string holds a code unit >= U+D800: UTF-16 order is code-point order, the engine's compare will do. */
  utf16Order: boolean;
}

const HIGH_UNIT = /[\ud800-\uffff]/;

function isHighString(v: EffectValue): boolean {
  return typeof v === 'string' && HIGH_UNIT.test(v);
}

/**
 * The comparator of folded rows by key. Keys are usually ASCII ids sharing a long prefix: a test per row for
 * characters where UTF-16 and code-point order part ways lets the sort compare them natively.
 */
function rowOrder(keyLength: number, utf16Order: boolean): (a: FoldedRow, b: FoldedRow) => number {
  if (!utf16Order) return (a, b) => compareTuples(a.key, b.key, compareValues);
  if (keyLength === 1) return (a, b) => compareUtf16(a.key[0] as EffectValue, b.key[0] as EffectValue);
  return (a, b) => compareTuples(a.key, b.key, compareUtf16);
}

/** compareValues for values whose strings hold no code unit >= U+D800. */
function compareUtf16(a: EffectValue, b: EffectValue): number {
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  return compareValues(a, b);
}

function pickColumns(
  record: Readonly<Record<string, EffectValue>>,
  columns: readonly string[],
): EffectValue[] {
  const out = new Array<EffectValue>(columns.length);
  for (let i = 0; i < columns.length; i++) out[i] = record[columns[i] as string] as EffectValue;
  return out;
}

/** A map key for a row key: typed, so 1 and "1" stay apart. */
function rowId(key: readonly EffectValue[]): string {
  if (key.length === 1 && typeof key[0] === 'string') return key[0];
  let out = '\u0001';
  for (const v of key) out += `${typeof v === 'bigint' ? 'number' : typeof v}:${String(v)}\u0000`;
  return out;
}
