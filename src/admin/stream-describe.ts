import { parseXinfoGroups } from '../consumers/stream-stats.ts';
import { PARTITION_HASH } from '../lib/partitions/partition-of.ts';
import { readStreamLayout, type StreamLayout, TAG_SCHEME } from '../lib/partitions/stream-layout.ts';
import type { RedisClient } from '../lib/redis/client.ts';
import { keyHashSlot } from '../lib/redis/key-slot.ts';
import { type StreamKeys, streamMetaKey } from '../lib/redis/keys.ts';

/**
 * What `streamsink stream describe` reports: the stream's layout (unpartitioned, or P partitions with their
 * routing hash and tag scheme) and, per key (the one stream or each partition), where it lives (cluster slot),
 * its length, dead-letter length and consumer groups. Read-only. Each partition is read with one pipeline
 * (its keys share a slot, so this works on a cluster); partitions are read a bounded number at a time.
 */
export interface StreamDescription {
  stream: string;
  partitioned: boolean;
  /** 1 for an unpartitioned stream. */
  partitions: number;
  hash: string | null;
  tags: string | null;
  createdAt: string | null;
  metaKey: string;
  totals: { length: number; deadLetter: number };
  parts: PartDescription[];
}

export interface PartDescription {
  /** null for an unpartitioned stream. */
  partition: number | null;
  key: string;
  deadLetterKey: string;
  slot: number;
  exists: boolean;
  length: number;
  deadLetter: number;
  groups: Array<{ name: string; consumers: number; pending: number; lag: number | null }>;
}

const PARALLEL = 32;

export async function describeStream(
  redis: RedisClient,
  prefix: string,
  name: string,
): Promise<StreamDescription> {
  const layout = await readStreamLayout(redis, prefix, name);
  const metaKey = streamMetaKey(prefix, name);
  const meta = layout.kind === 'partitioned' ? await redis.hgetall(metaKey) : {};
  const keys = layoutKeys(layout);
  const parts = await mapBounded(keys, PARALLEL, (k) => describePart(redis, k));
  return {
    stream: name,
    partitioned: layout.kind === 'partitioned',
    partitions: keys.length,
    hash: layout.kind === 'partitioned' ? PARTITION_HASH : null,
    tags: layout.kind === 'partitioned' ? TAG_SCHEME : null,
    createdAt: meta.createdAt === undefined ? null : new Date(Number(meta.createdAt)).toISOString(),
    metaKey,
    totals: {
      length: parts.reduce((n, p) => n + p.length, 0),
      deadLetter: parts.reduce((n, p) => n + p.deadLetter, 0),
    },
    parts,
  };
}

/** Every stream key of a layout, in partition order. */
export function layoutKeys(layout: StreamLayout): StreamKeys[] {
  return layout.kind === 'single' ? [layout.keys] : [...layout.partitions];
}

async function describePart(redis: RedisClient, keys: StreamKeys): Promise<PartDescription> {
  const replies = await redis
    .pipeline()
    .exists(keys.stream)
    .xlen(keys.stream)
    .xlen(keys.deadLetter)
    .xinfo('GROUPS', keys.stream)
    .exec();
  if (replies?.length !== 4) throw new Error('describe pipeline returned no results');
  const [exists, length, deadLetter, groups] = replies as Array<[Error | null, unknown]>;
  for (const r of [exists, length, deadLetter]) if (r?.[0]) throw r[0];
  const present = Number(exists?.[1]) === 1;
  if (groups?.[0] && present) throw groups[0];
  return {
    partition: keys.partition ?? null,
    key: keys.stream,
    deadLetterKey: keys.deadLetter,
    slot: keyHashSlot(keys.stream),
    exists: present,
    length: Number(length?.[1] ?? 0),
    deadLetter: Number(deadLetter?.[1] ?? 0),
    groups: present
      ? parseXinfoGroups(groups?.[1]).map((g) => ({
          name: g.name,
          consumers: g.consumers,
          pending: g.pending,
          lag: g.lag,
        }))
      : [],
  };
}

/** Run `fn` over `items`, at most `limit` at a time, keeping order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return out;
}
