/**
 * Memory sizing of a worker from its in-flight limit (docs/deploy.md#memory). A worker holds at most
 * STREAMSINK_MAX_IN_FLIGHT entries; each costs several times its wire size while held: the Redis reply buffer,
 * the decoded field strings (UTF-16 in V8), the parsed JSON payload, and the batch's SQL parameters.
 */
export const MiB = 2 ** 20;

export interface SizingInput {
  maxInFlight: number;
  /** Average event size on the wire. 8 KiB is generous for payment events (~1 KiB). */
  avgEventBytes?: number;
}

/** Fixed cost of a running worker: Node, ioredis, pg pool, pino, prom-client, code. */
export const BASELINE_BYTES = 100 * MiB;
/** Bytes held per byte of event while it is in flight. */
export const AMPLIFICATION = 8;
/** Outside the V8 heap: Buffers (socket reads, pg wire messages), code space, thread stacks. */
export const OFF_HEAP_BYTES = 96 * MiB;

/** What the V8 heap must be able to hold (the `--max-old-space-size` floor). */
export function workerHeapBytes({ maxInFlight, avgEventBytes = 8192 }: SizingInput): number {
  return BASELINE_BYTES + maxInFlight * avgEventBytes * AMPLIFICATION;
}

/** The smallest container memory limit for a heap cap of `heapBytes`. */
export function minMemoryLimitBytes(heapBytes: number): number {
  return heapBytes + OFF_HEAP_BYTES;
}
