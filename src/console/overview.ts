import { parseXinfoGroups, readStreamStats, toGauges } from '../consumers/stream-stats.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { type StreamKeys, streamKeys } from '../lib/redis/keys.ts';

/**
 * The streams-and-groups view's data: per stream its length and dead-letter depth, per group its lag,
 * pending count, oldest pending age and consumers. Read with the same commands as `streamsink status`
 * (src/consumers/stream-stats.ts), for every group of the stream.
 */

export interface GroupOverview {
  name: string;
  consumers: number;
  pending: number;
  /** Null when Redis cannot tell (entries deleted before delivery). */
  lag: number | null;
  oldestPendingAgeSeconds: number;
  lastDeliveredId: string;
}

export interface StreamOverview {
  name: string;
  key: string;
  exists: boolean;
  length: number;
  deadLetter: number;
  groups: GroupOverview[];
}

export async function readOverview(
  redis: Redis,
  keyPrefix: string,
  stream: string,
  nowMs: number,
): Promise<StreamOverview> {
  const keys: StreamKeys = streamKeys(keyPrefix, stream);
  const groupNames = await listGroups(redis, keys.stream);
  const out: StreamOverview = {
    name: stream,
    key: keys.stream,
    exists: groupNames !== undefined,
    length: 0,
    deadLetter: 0,
    groups: [],
  };
  if (groupNames === undefined || groupNames.length === 0) {
    // No groups (or no stream): the lengths still matter, a dead-letter stream outlives its stream.
    const stats = await readStreamStats(redis, keys, '');
    out.length = stats.streamLength;
    out.deadLetter = stats.deadLetterLength;
    return out;
  }
  for (const group of groupNames) {
    const stats = await readStreamStats(redis, keys, group);
    out.length = stats.streamLength;
    out.deadLetter = stats.deadLetterLength;
    if (!stats.group) continue; // deleted between the two reads
    out.groups.push({
      name: group,
      consumers: stats.group.consumers,
      pending: stats.group.pending,
      lag: stats.group.lag,
      oldestPendingAgeSeconds: toGauges(stats, nowMs).oldestPendingAgeSeconds,
      lastDeliveredId: stats.group.lastDeliveredId,
    });
  }
  return out;
}

/** The stream's group names, or undefined when the stream does not exist. */
async function listGroups(redis: Redis, key: string): Promise<string[] | undefined> {
  try {
    return parseXinfoGroups(await redis.xinfo('GROUPS', key)).map((g) => g.name);
  } catch (error) {
    if (/no such key/i.test((error as Error).message)) return undefined;
    throw error;
  }
}
