import { hash } from 'node:crypto';
import { canonicalJson, jsonString } from '../lib/canonical-json.ts';

/**
 * What makes two deliveries of one event id "the same event" (docs/postgres.md#identity): its type, version,
 * key and data, compared as canonical JSON (RFC 8785), so the same content from another serialiser (keys in
 * another order, other whitespace) matches. The time (`ts`) and the transport (stream, entry id) are not part
 * of it: a producer that retries, or the same event published onto a second stream, is the same event.
 *
 * Returns the SHA-256 as 64 lowercase hex characters. Pure.
 */
export function contentHash(
  event: { type: string; v: number; key: string; data: unknown },
  dataCanonical?: string,
): string {
  // `dataCanonical`, canonicalJson(data), when the caller has it already (the proof's input hash shares it).
  const canonical =
    dataCanonical === undefined
      ? canonicalJson({ data: event.data, key: event.key, type: event.type, v: event.v })
      : `{"data":${dataCanonical},"key":${jsonString(event.key)},"type":${jsonString(event.type)},"v":${canonicalJson(event.v)}}`;
  return hash('sha256', canonical, 'hex');
}
