import type { StreamEntry } from '../types.ts';

/**
 * Key lanes inside an ordered partition (pure). A lane is `fnv1a32(key) mod L`: lanes run in parallel, each
 * one serially and in stream order, so events of one key are applied one after another while other keys go
 * ahead. FNV-1a rather than the routing hash: every key of partition p has sha256-u32 mod P = p, so the same
 * hash mod L would put a partition's keys in few lanes whenever L shares a factor with P.
 */
export function laneOf(key: string, lanes: number): number {
  if (lanes <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % lanes;
}

/**
 * The event key of a raw entry (its `key` field). An entry without one cannot decode and will be
 * dead-lettered: it gets a key of its own, so it holds up nobody.
 */
export function entryKey(entry: StreamEntry): string {
  const { fields } = entry;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'key') return fields[i + 1] as string;
  return `\u0000entry:${entry.id}`;
}

/**
 * The next batch of a lane: its first `max` entries, in stream order. A key's events may come several to a
 * batch; the sink (PgSinkOptions.orderKey) writes none of a key's events after one that failed, and those come
 * back deferred, so an entry that must be retried stays at the head of its key: its key's later entries wait
 * behind it, other keys go on.
 */
export function pickBatch(queue: readonly StreamEntry[], max: number): StreamEntry[] {
  return queue.slice(0, Math.max(1, max));
}
