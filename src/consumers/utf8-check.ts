import { isUtf8 } from 'node:buffer';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import type { StreamEntry } from './types.ts';

/**
 * Find entries whose bytes are not valid UTF-8. ioredis decodes replies as UTF-8 and silently turns bad
 * bytes into U+FFFD, so a decoded entry without U+FFFD was valid (an ASCII or Latin-1 string cannot even hold
 * one, and V8 answers `includes` on those without scanning). Only entries that show U+FFFD are read again, as
 * bytes (XRANGE id id), to tell a producer's real U+FFFD from garbage: the common case costs nothing.
 */
export function mayBeInvalidUtf8(entry: StreamEntry): boolean {
  for (const field of entry.fields) if (field.includes('\uFFFD')) return true;
  return false;
}

/** Set `invalidUtf8` on the entries whose stored bytes are not UTF-8; entries gone from the stream are left. */
export async function markInvalidUtf8(redis: Redis, stream: string, entries: readonly StreamEntry[]) {
  for (const entry of entries) {
    if (!mayBeInvalidUtf8(entry)) continue;
    const found = (await redis.xrangeBuffer(stream, entry.id, entry.id)) as Array<[Buffer, Buffer[]]>;
    const fields = found[0]?.[1];
    if (fields?.some((f) => !isUtf8(f))) entry.invalidUtf8 = true;
  }
}
