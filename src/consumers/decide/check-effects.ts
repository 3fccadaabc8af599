import { PoisonMessageError } from '../../lib/errors.ts';
import {
  type Effect,
  type EffectValue,
  isIntegerValue,
  type MergeRule,
  type TableSpec,
  toBigInt,
} from './effects.ts';

/**
 * Check what `decide` returned against the pipeline's `tables`. A mismatch is the pipeline's bug, but it is
 * tied to this event: a {@link PoisonMessageError} `invalid_effects` naming what is wrong, so the event is
 * dead-lettered (with the reason) and the worker goes on. Pure.
 */
export function checkEffects(
  effects: unknown,
  tables: Readonly<Record<string, TableSpec>>,
  columns: TablesColumns = tablesColumns(tables),
): Effect[] {
  if (!Array.isArray(effects)) throw invalid(`decide must return an array of effects, got ${kind(effects)}`);
  // On the hot path (every event of a decide pipeline): no allocation unless something is wrong.
  for (let i = 0; i < effects.length; i++) {
    const e: unknown = effects[i];
    if (typeof e !== 'object' || e === null) throw invalid(`effect ${i} is ${kind(e)}, not an object`);
    const { table, key, values } = e as Partial<Effect>;
    const spec = typeof table === 'string' && Object.hasOwn(tables, table) ? tables[table] : undefined;
    const declared = spec && columns.get(table as string);
    if (!spec || !declared)
      throw invalid(
        `effect ${i}: table ${JSON.stringify(table)} is not declared in tables (${Object.keys(tables).join(', ')})`,
      );
    if (!fits(key, declared.key, undefined))
      throw columnsProblem(i, table as string, 'key', key, declared.key, spec);
    if (!fits(values, declared.values, declared.rules))
      throw columnsProblem(i, table as string, 'values', values, declared.values, spec);
  }
  return effects as Effect[];
}

/** A declared table's columns: key columns, then merged columns with their rules, in declaration order. */
export interface TableColumns {
  readonly key: readonly string[];
  readonly values: readonly string[];
  readonly rules: readonly MergeRule[];
}

export type TablesColumns = ReadonlyMap<string, TableColumns>;

/** The columns of each declared table, built once per pipeline (checkEffects' third argument). */
export function tablesColumns(tables: Readonly<Record<string, TableSpec>>): TablesColumns {
  return new Map(
    Object.entries(tables).map(([name, spec]) => {
      const values = Object.keys(spec.merge);
      return [name, { key: spec.key, values, rules: values.map((c) => spec.merge[c] as MergeRule) }];
    }),
  );
}

/**
 * Whether `given` has exactly the `expected` own keys, each an effect value its rule (when given) accepts.
 * One pass over the record's own keys: each must be expected, and there must be as many as expected.
 */
function fits(given: unknown, expected: readonly string[], rules: readonly MergeRule[] | undefined): boolean {
  if (typeof given !== 'object' || given === null) return false;
  const record = given as Record<string, unknown>;
  let seen = 0;
  for (const k in record) {
    if (!Object.hasOwn(record, k)) continue;
    const i = expected.indexOf(k);
    if (i < 0) return false;
    seen++;
    const v = record[k];
    if (rules === undefined ? !isEffectValue(v) : !fitsRule(rules[i] as MergeRule, v)) return false;
  }
  return seen === expected.length;
}

function fitsRule(rule: MergeRule, v: unknown): boolean {
  if (!isEffectValue(v)) return false;
  if (rule === 'add') return isIntegerValue(v);
  if (rule === 'max' || rule === 'min' || typeof rule === 'object') return v !== null;
  return true;
}

function valueProblem(
  spec: TableSpec,
  part: 'key' | 'values',
  column: string,
  v: unknown,
): string | undefined {
  if (!isEffectValue(v)) return 'a string, number, bigint, boolean or null';
  if (part === 'key') return undefined;
  const rule = spec.merge[column];
  if (rule === 'add' && toBigInt(v) === undefined) return 'an integer (number, bigint or decimal string)';
  if ((rule === 'max' || rule === 'min' || typeof rule === 'object') && v === null) return 'not null';
  return undefined;
}

/** The refusal for a key or values record that does not fit the declaration (off the hot path). */
function columnsProblem(
  index: number,
  table: string,
  part: 'key' | 'values',
  given: unknown,
  expected: readonly string[],
  spec: TableSpec,
): PoisonMessageError {
  const where = `effect ${index} (${table}) ${part}`;
  if (typeof given !== 'object' || given === null)
    return invalid(`${where} is ${kind(given)}, not an object`);
  const record = given as Record<string, unknown>;
  const extra = Object.keys(record).filter((c) => !expected.includes(c));
  const missing = expected.filter((c) => !Object.hasOwn(record, c));
  if (extra.length > 0 || missing.length > 0)
    return invalid(
      `${where}: ${[
        extra.length > 0 ? `undeclared column(s) ${extra.join(', ')}` : '',
        missing.length > 0 ? `missing column(s) ${missing.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')} (declared: ${expected.join(', ')})`,
    );
  for (const column of expected) {
    const problem = valueProblem(spec, part, column, record[column]);
    if (problem !== undefined)
      return invalid(`${where}: ${column} must be ${problem}, got ${kind(record[column])}`);
  }
  return invalid(`${where}: its columns do not match (declared: ${expected.join(', ')})`);
}

function isEffectValue(v: unknown): v is EffectValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return true;
  return typeof v === 'number' && Number.isFinite(v);
}

function invalid(message: string): PoisonMessageError {
  return new PoisonMessageError('invalid_effects', `invalid_effects: ${message}`);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}
