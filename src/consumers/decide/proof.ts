import { hash } from 'node:crypto';
import { canonicalJson, jsonString } from '../../lib/canonical-json.ts';
import { compareCodePoints, type Effect, type EffectValue } from './effects.ts';

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
    // Column names were checked against the declared tables (lower-case identifiers), and a number's
    // decimal text needs no escaping: only string values go through jsonString.
    const text =
      typeof v === 'string'
        ? jsonString(v)
        : typeof v === 'number' || typeof v === 'bigint'
          ? `"${v}"`
          : String(v);
    out += `${first ? '' : ','}"${k}":${text}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * An event's effects (checked against the pipeline's tables: columns are identifiers) in canonical form:
 * each `{ key, table, values }` with numbers as decimal strings, and the list sorted by each effect's canonical JSON text in code-point order (so the order `decide` listed them
 * in does not matter, and 5 and 5n prove the same).
 */
export function canonicalEffects(effects: readonly Effect[]): string {
  const texts = effects.map(
    (e) => `{"key":${recordText(e.key)},"table":${jsonString(e.table)},"values":${recordText(e.values)}}`,
  );
  if (texts.length > 1) texts.sort(compareCodePoints);
  return `[${texts.join(',')}]`;
}

/** The proof over an input hash and (for a decide pipeline) the event's effects. */
export function proofHash(pipeline: string, input: string, effects: readonly Effect[] | null): string {
  return sha256Hex(proofCanonical(pipeline, input, effects));
}

export function proofCanonical(pipeline: string, input: string, effects: readonly Effect[] | null): string {
  const e = effects === null ? 'null' : canonicalEffects(effects);
  return `{"effects":${e},"input_hash":${jsonString(input)},"pipeline":${jsonString(pipeline)}}`;
}

/** `name@version`, as proofs name a pipeline. */
export function pipelineLabel(p: { name: string; version: string }): string {
  return `${p.name}@${p.version}`;
}
