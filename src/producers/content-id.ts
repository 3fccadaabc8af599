import { createHash } from 'node:crypto';
import { canonicalJson } from '../lib/canonical-json.ts';

/**
 * The id `streamsink publish` gives an NDJSON line that has none (docs/wire-format.md#content-ids): derived
 * from the event's content, so publishing the same file twice publishes each event once (the second run's
 * lines come back as duplicates of the first's).
 *
 *   id = "sha256-" + hex(SHA-256(canonical JSON of { data, key, type, v }))
 *
 * with `v` defaulting to 1 as on publish, and the `key` member left out when the event has no key of its own
 * (its key then defaults to this id). Canonical JSON is RFC 8785 (src/lib/canonical-json.ts). When the event
 * has a key, the hex part equals its content hash (content-hash.ts). `ts` and `traceparent` are not content:
 * two lines that differ only there are one event. Pure.
 *
 * Throws a RangeError only for a value JSON.parse cannot produce (see canonicalJson).
 */
export function contentId(event: { type: unknown; v?: unknown; key?: unknown; data: unknown }): string {
  const content: Record<string, unknown> = { data: event.data, type: event.type, v: event.v ?? 1 };
  if (event.key !== undefined) content.key = event.key;
  return `sha256-${createHash('sha256').update(canonicalJson(content)).digest('hex')}`;
}
