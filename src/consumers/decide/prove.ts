import { canonicalJson } from '../../lib/canonical-json.ts';
import type { Envelope } from '../../lib/envelope.ts';
import { contentHash } from '../content-hash.ts';
import type { AcceptedItem } from '../types.ts';
import { checkEffects, type TablesColumns } from './check-effects.ts';
import type { DecideContext, Effect, TableSpec } from './effects.ts';
import { type EffectLayouts, inputHash, proofHash } from './proof.ts';

export type DecideFunction = (event: DecideEvent, ctx: DecideContext) => readonly Effect[];

/** What `decide` receives: the envelope without where it was read (what the input hash covers). */
export interface DecideEvent {
  id: string;
  type: string;
  v: number;
  key: string;
  ts: string;
  data: unknown;
}

const NO_CONTEXT: DecideContext = Object.freeze({});

export function toDecideEvent(envelope: Envelope): DecideEvent {
  return {
    id: envelope.id,
    type: envelope.type,
    v: envelope.v,
    key: envelope.key,
    ts: envelope.ts,
    data: envelope.data,
  };
}

export interface Decider {
  decide: DecideFunction;
  tables: Readonly<Record<string, TableSpec>>;
  /** effectLayouts(tables), built once: proofs then sort no columns (the same text either way). */
  layouts?: EffectLayouts;
  /** tablesColumns(tables), built once: checking effects then lists no declaration's columns. */
  columns?: TablesColumns;
}

/**
 * Run `decide` for one event and check what it returned. Returns the effects, or throws what `decide` threw
 * (a PoisonMessageError `invalid_effects` for effects that do not fit `tables`). Pure if `decide` is.
 */
export function runDecide(decider: Decider, envelope: Envelope, enrichment?: unknown): Effect[] {
  // The enrichment recorded with the event (enrich-step.ts, the inbox's `enrichment`): replay passes the same.
  const ctx = enrichment === undefined ? NO_CONTEXT : Object.freeze({ enrichment });
  return checkEffects(decider.decide(toDecideEvent(envelope), ctx), decider.tables, decider.columns);
}

/**
 * Fill an item's input hash and proof (docs/proof.md), and for a decide pipeline its effects. The content
 * hash (the inbox's duplicate test) shares the canonical text of `data`, so it costs one more SHA-256, not a
 * second serialisation. Never throws: a throwing `decide` is kept as `decideError`.
 */
export function proveItem(
  item: AcceptedItem,
  label: string,
  decider: Decider | undefined,
  wrapError: (error: unknown) => unknown,
): void {
  if (item.proof !== undefined || item.decideError !== undefined) return;
  // Both hashes cover the event as published (the stream entry), before the schema or upcasters changed it:
  // the content hash so that a redelivery after an upgrade is still the same event, the input hash so that
  // replay compares with what the stream holds. `decide` sees the accepted (upcast) event.
  const published = item.published ?? item.envelope;
  const data = canonicalJson(published.data);
  item.contentHash ??= contentHash(published, data);
  const input = inputHash(published, data);
  item.inputHash = input;
  if (!decider) {
    item.proof = proofHash(label, input, null);
    return;
  }
  try {
    const effects = runDecide(decider, item.envelope, item.enrichment);
    item.effects = effects;
    item.proof = proofHash(label, input, effects, decider.layouts);
  } catch (error) {
    item.decideError = wrapError(error);
  }
}
