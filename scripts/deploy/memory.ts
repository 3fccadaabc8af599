/**
 * Memory sizing of a worker from its in-flight limit (docs/deploy.md#memory). A worker holds at most
 * STREAMSINK_MAX_IN_FLIGHT entries, so its memory is bounded by that, not by the backlog. The coefficients are
 * fitted to measurements (bench/worker-memory.ts: 2,000 in flight, 1 KiB and 8 KiB events, heap cap 256 MiB):
 *
 *   1 KiB events: peak RSS 212 MiB, peak V8 heap used  60 MiB
 *   8 KiB events: peak RSS 337 MiB, peak V8 heap used 126 MiB   (404 MiB RSS without a heap cap)
 *
 * Most of the growth is outside the V8 heap (Redis reply buffers, pg wire buffers), so the container limit is
 * sized from RSS, and the heap cap only needs to hold the heap part with room for the garbage collector.
 */
export const MiB = 2 ** 20;
const KiB = 2 ** 10;

export interface SizingInput {
  maxInFlight: number;
  /** Average event size on the wire. 8 KiB is generous for payment events (~1 KiB). */
  avgEventBytes?: number;
}

/** Resident memory of a worker with its in-flight limit full. */
export function workerRssBytes({ maxInFlight, avgEventBytes = 8 * KiB }: SizingInput): number {
  return 130 * MiB + maxInFlight * (32 * KiB + 9 * avgEventBytes);
}

/** V8 heap used at the same point. */
export function workerHeapBytes({ maxInFlight, avgEventBytes = 8 * KiB }: SizingInput): number {
  return 20 * MiB + maxInFlight * (16 * KiB + 5 * avgEventBytes);
}

/** Headroom over the estimate: the container limit (OOM kill) and the heap cap (GC thrash) must not be tight. */
export const LIMIT_HEADROOM = 1.25;
export const HEAP_HEADROOM = 1.5;

export function minMemoryLimitBytes(input: SizingInput): number {
  return workerRssBytes(input) * LIMIT_HEADROOM;
}

export function minHeapCapBytes(input: SizingInput): number {
  return workerHeapBytes(input) * HEAP_HEADROOM;
}
