import { CLUSTER_SLOTS, keyHashSlot } from '../redis/key-slot.ts';

/**
 * The hash tag shared by every key of one partition (its stream, dead-letter stream, dedupe keys and lease),
 * chosen so that a stream's partitions spread evenly over a Redis Cluster's slots.
 *
 * Partition p of P owns the slot range [floor(p*16384/P), floor((p+1)*16384/P)). Its tag is `<name>/<p>/<n>`
 * for the smallest n >= 0 whose slot falls in that range. Bare tags such as `{0}..{P-1}` do not spread
 * (CRC16 of short digit strings clusters: 8 of 16 equal slot ranges get none of `0`..`31`), and a tag that
 * names the stream keeps two streams' partition p apart. A range holds 16384/P slots, so the search takes
 * about P tries per partition; P is capped at MAX_PARTITIONS to keep that small.
 */
export const MAX_PARTITIONS = 1024;

export function partitionSlotRange(p: number, partitions: number): { from: number; to: number } {
  return {
    from: Math.floor((p * CLUSTER_SLOTS) / partitions),
    to: Math.floor(((p + 1) * CLUSTER_SLOTS) / partitions),
  };
}

export function partitionTag(name: string, p: number, partitions: number): string {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw new RangeError(`partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${partitions}`);
  }
  if (!Number.isInteger(p) || p < 0 || p >= partitions) {
    throw new RangeError(`partition must be an integer from 0 to ${partitions - 1}, got ${p}`);
  }
  const { from, to } = partitionSlotRange(p, partitions);
  for (let n = 0; ; n++) {
    const tag = `${name}/${p}/${n}`;
    const slot = keyHashSlot(`{${tag}}`);
    if (slot >= from && slot < to) return tag;
  }
}
