import { hash } from 'node:crypto';
import { canonicalJson, isPlainJsonString, jsonString } from '../../lib/canonical-json.ts';
import { compareCodePoints, type Effect, type EffectValue, type TableSpec } from './effects.ts';

/**
 * The proof of an applied event (docs/proof.md, which an auditor follows to recompute it without streamsink).
 * Pure. Every hash is SHA-256 over canonical JSON (RFC 8785: sorted keys, no whitespace), as lowercase hex.
 *
 *   input_hash = sha256(JCS({ data, id, key, ts, type, v }))        the envelope without transport fields
 *   proof      = sha256(JCS({ effects, input_hash, pipeline }))     pipeline = "<name>@<version>"
 *
 * `effects` is the event's effects in canonical form, or null for an SQL `apply` pipeline (its proof covers
 * the input only: what SQL did is not known to streamsink).
 */

/** The envelope fields an input hash covers: everything but the transport (stream, entry id, traceparent). */
export interface ProofInput {
  id: string;
  type: string;
  v: number;
  key: string;
  ts: string;
  data: unknown;
}

export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/**
 * The input hash's canonical text. `dataCanonical` (canonicalJson(data)) may be passed when already computed:
 * the content hash (content-hash.ts) covers the same data text.
 */
export function inputCanonical(e: ProofInput, dataCanonical = canonicalJson(e.data)): string {
  // Keys in RFC 8785 order: data < id < key < ts < type < v.
  return `{"data":${dataCanonical},"id":${jsonString(e.id)},"key":${jsonString(e.key)},"ts":${jsonString(e.ts)},"type":${jsonString(e.type)},"v":${canonicalJson(e.v)}}`;
}

export function inputHash(e: ProofInput, dataCanonical?: string): string {
  return sha256Hex(inputCanonical(e, dataCanonical));
}

/** A string as JSON text (what JSON.stringify and RFC 8785 write); shared with canonical-json.ts. */
export { jsonString };

/**
 * `{...}` with sorted keys: the canonical text of a key or values record, numbers and bigints as decimal
 * strings ("money as strings"), booleans and null as they are.
 */
function recordText(record: Readonly<Record<string, EffectValue>>): string {
  const keys = Object.keys(record);
  if (keys.length > 1) keys.sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = record[k] as EffectValue;
    if (v === undefined) continue; // as JSON: an undefined member is absent
    // Column names were checked against the declared tables (lower-case identifiers).
    const text = valueText(v);
    out += `${first ? '' : ','}"${k}":${text}`;
    first = false;
  }
  return `${out}}`;
}

/** A value's canonical text: numbers and bigints as decimal strings (their text needs no escaping). */
function valueText(v: EffectValue): string {
  if (typeof v === 'string') return jsonString(v);
  if (typeof v === 'number' || typeof v === 'bigint') return `"${v}"`;
  return String(v);
}

type Columns = ReadonlyArray<readonly [column: string, prefix: string]>;

/**
 * Per declared table, its name's JSON text and its key and value columns in canonical (code-unit) order with
 * their `"column":` prefixes: built once per pipeline, so proving a checked effect (whose columns are exactly
 * the declared ones) sorts nothing. The text is the same as without it.
 *
 * `slots` and `glue` are the whole effect text cut around its values, for the usual effect whose values are
 * numbers and strings that need no escaping: the text is then glue[0] + value 1 + glue[1] + ... (a few string
 * concatenations per value instead of a dozen, on every event of a decide pipeline).
 */
export type EffectLayouts = ReadonlyMap<string, EffectLayout>;

interface EffectLayout {
  readonly table: string;
  readonly key: Columns;
  readonly values: Columns;
  /** Key columns, then value columns, each in canonical order: [in values?, column]. */
  readonly slots: ReadonlyArray<readonly [inValues: boolean, column: string]>;
  /** The text between the slots' values (one more than slots), or undefined when a name could not be cut. */
  readonly glue: readonly string[] | undefined;
}

const SLOT = '\u0000';

export function effectLayouts(tables: Readonly<Record<string, TableSpec>>): EffectLayouts {
  const columns = (names: readonly string[]): Columns =>
    [...names].sort().map((c) => [c, `"${c}":`] as const);
  const layouts = new Map<string, EffectLayout>();
  for (const [name, spec] of Object.entries(tables)) {
    const key = columns(spec.key);
    const values = columns(Object.keys(spec.merge));
    const table = jsonString(name);
    const record = (cs: Columns) => `{${cs.map(([, prefix]) => `${prefix}"${SLOT}"`).join(',')}}`;
    const text = `{"key":${record(key)},"table":${table},"values":${record(values)}}`;
    const slots = [...key.map(([c]) => [false, c] as const), ...values.map(([c]) => [true, c] as const)];
    const glue = text.split(SLOT);
    layouts.set(name, {
      table,
      key,
      values,
      slots,
      glue: glue.length === slots.length + 1 ? glue : undefined,
    });
  }
  return layouts;
}

/** A value's canonical text without its quotes, for a number, a bigint or a string that needs no escaping. */
function bareText(v: EffectValue | undefined): string | undefined {
  if (typeof v === 'string') return isPlainJsonString(v) ? v : undefined;
  if (typeof v === 'number' || typeof v === 'bigint') return `${v}`;
  return undefined;
}

/** effectText by the layout's glue; undefined for a value bareText does not take (or a missing column). */
function gluedText(e: Effect, slots: EffectLayout['slots'], glue: readonly string[]): string | undefined {
  let out = glue[0] as string;
  for (let i = 0; i < slots.length; i++) {
    const [inValues, column] = slots[i] as readonly [boolean, string];
    const bare = bareText((inValues ? e.values : e.key)[column]);
    if (bare === undefined) return undefined;
    out += bare + (glue[i + 1] as string);
  }
  return out;
}

/** recordText for a record holding exactly `columns` (checkEffects saw to it); undefined if one is absent. */
function laidOutText(record: Readonly<Record<string, EffectValue>>, columns: Columns): string | undefined {
  let out = '{';
  for (let i = 0; i < columns.length; i++) {
    const [column, prefix] = columns[i] as readonly [string, string];
    const v = record[column];
    if (v === undefined) return undefined;
    out += i === 0 ? prefix + valueText(v) : `,${prefix}${valueText(v)}`;
  }
  return `${out}}`;
}

function effectText(e: Effect, layouts: EffectLayouts | undefined): string {
  const layout = layouts?.get(e.table);
  if (layout) {
    const glued = layout.glue ? gluedText(e, layout.slots, layout.glue) : undefined;
    if (glued !== undefined) return glued;
    const key = laidOutText(e.key, layout.key);
    const values = laidOutText(e.values, layout.values);
    if (key !== undefined && values !== undefined)
      return `{"key":${key},"table":${layout.table},"values":${values}}`;
  }
  return `{"key":${recordText(e.key)},"table":${jsonString(e.table)},"values":${recordText(e.values)}}`;
}

/**
 * An event's effects (checked against the pipeline's tables: columns are identifiers) in canonical form:
 * each `{ key, table, values }` with numbers as decimal strings, and the list sorted by each effect's canonical JSON text in code-point order (so the order `decide` listed them
 * in does not matter, and 5 and 5n prove the same).
 */
export function canonicalEffects(effects: readonly Effect[], layouts?: EffectLayouts): string {
  // One or two effects (most events): no array to map, sort and join.
  if (effects.length === 1) return `[${effectText(effects[0] as Effect, layouts)}]`;
  if (effects.length === 2) {
    const a = effectText(effects[0] as Effect, layouts);
    const b = effectText(effects[1] as Effect, layouts);
    return compareCodePoints(a, b) <= 0 ? `[${a},${b}]` : `[${b},${a}]`;
  }
  const texts = effects.map((e) => effectText(e, layouts));
  if (texts.length > 1) texts.sort(compareCodePoints);
  return `[${texts.join(',')}]`;
}

/** The proof over an input hash and (for a decide pipeline) the event's effects. */
export function proofHash(
  pipeline: string,
  input: string,
  effects: readonly Effect[] | null,
  layouts?: EffectLayouts,
): string {
  return sha256Hex(proofCanonical(pipeline, input, effects, layouts));
}

export function proofCanonical(
  pipeline: string,
  input: string,
  effects: readonly Effect[] | null,
  layouts?: EffectLayouts,
): string {
  const e = effects === null ? 'null' : canonicalEffects(effects, layouts);
  return `{"effects":${e},"input_hash":${jsonString(input)},"pipeline":${jsonString(pipeline)}}`;
}

/** `name@version`, as proofs name a pipeline. */
export function pipelineLabel(p: { name: string; version: string }): string {
  return `${p.name}@${p.version}`;
}
