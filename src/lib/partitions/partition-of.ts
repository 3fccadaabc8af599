import { createHash } from 'node:crypto';

/**
 * The partition an event goes to: the first four bytes of SHA-256 over the UTF-8 bytes of the event's `key`,
 * read as an unsigned big-endian 32-bit integer, modulo the stream's partition count.
 *
 * SHA-256 because every language has it in its standard library, so a producer written elsewhere routes
 * exactly as this one does (docs/wire-format.md#partitions). Its cost (~1 µs per key) is small next to a publish.
 * With P <= 1024 the modulo bias of a 32-bit value is below 1 in 4 million.
 */
export const PARTITION_HASH = 'sha256-u32be' as const;

export function partitionOf(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  if (partitions === 1) return 0;
  return createHash('sha256').update(key, 'utf8').digest().readUInt32BE(0) % partitions;
}
