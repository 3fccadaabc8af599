import { StreamLayoutError } from '../errors.ts';
import type { RedisClient as Redis } from '../redis/client.ts';
import {
  type PartitionKeys,
  partitionKeys,
  type StreamKeys,
  streamKeys,
  streamMetaKey,
} from '../redis/keys.ts';
import { loadLuaScript } from '../redis/script-loader.ts';
import { PARTITION_HASH } from './partition-of.ts';
import { MAX_PARTITIONS, partitionTag } from './partition-tags.ts';

/**
 * Where a logical stream's entries live: one stream key (unpartitioned, as before partitions existed), or P
 * partition stream keys fixed when the stream was created with `stream create --partitions P`.
 *
 * The metadata is a hash at `<prefix>:{<stream>}:meta`: `partitions` (P), `hash` (the routing hash,
 * partition-of.ts), `tags` (the tag scheme, partition-tags.ts), `createdAt` (ms). No hash means unpartitioned.
 */
export type StreamLayout =
  | { readonly kind: 'single'; readonly name: string; readonly keys: StreamKeys }
  | { readonly kind: 'partitioned'; readonly name: string; readonly partitions: readonly PartitionKeys[] };

export const TAG_SCHEME = 'name/p/n-v1';

const createScript = loadLuaScript(new URL('./create-stream-meta.lua', import.meta.url));

export function partitionedLayout(prefix: string, name: string, partitions: number): StreamLayout {
  const keys: PartitionKeys[] = [];
  for (let p = 0; p < partitions; p++)
    keys.push(partitionKeys(prefix, name, p, partitionTag(name, p, partitions)));
  return { kind: 'partitioned', name, partitions: keys };
}

/** Reads the stream's metadata. A stream never created with partitions is `single`, whether it exists or not. */
export async function readStreamLayout(redis: Redis, prefix: string, name: string): Promise<StreamLayout> {
  const meta = await redis.hgetall(streamMetaKey(prefix, name));
  if (meta.partitions === undefined) return { kind: 'single', name, keys: streamKeys(prefix, name) };
  const partitions = Number(meta.partitions);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new StreamLayoutError(
      name,
      `its metadata holds partitions=${meta.partitions}, not 1..${MAX_PARTITIONS}`,
    );
  }
  if (meta.hash !== PARTITION_HASH || meta.tags !== TAG_SCHEME) {
    throw new StreamLayoutError(
      name,
      `its metadata names hash=${meta.hash} tags=${meta.tags}; this version knows ${PARTITION_HASH} ${TAG_SCHEME}`,
    );
  }
  return partitionedLayout(prefix, name, partitions);
}

export type CreateOutcome = { readonly created: boolean; readonly layout: StreamLayout };

/**
 * Creates a partitioned stream's metadata. Idempotent for the same P; refuses another P (P is fixed at creation)
 * and refuses a stream that already exists unpartitioned (its entries would be stranded).
 */
export async function createPartitionedStream(
  redis: Redis,
  prefix: string,
  name: string,
  partitions: number,
  nowMs: number,
): Promise<CreateOutcome> {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new RangeError(`partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${partitions}`);
  }
  const single = streamKeys(prefix, name);
  const reply = (await createScript.run(
    redis,
    [streamMetaKey(prefix, name), single.stream],
    [partitions, PARTITION_HASH, TAG_SCHEME, nowMs],
  )) as [string, number];
  const [status, count] = reply;
  if (status === 'unpartitioned') {
    throw new StreamLayoutError(name, `it already exists unpartitioned (${count} entries); use another name`);
  }
  if (status === 'exists' && count !== partitions) {
    throw new StreamLayoutError(name, `it already has ${count} partitions; the count is fixed at creation`);
  }
  return { created: status === 'created', layout: partitionedLayout(prefix, name, partitions) };
}
