import { describeError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import { idlePollDelay } from '../capacity.ts';
import { isLeaseLostError, isNoGroupError, type StreamClient } from '../stream-client.ts';
import type { StreamEntry } from '../types.ts';
import { createWakeup, sleep } from '../wakeup.ts';
import type { LaneBatchResult } from './lane-batch.ts';
import { entryKey, laneOf, pickBatch } from './lanes.ts';

/**
 * One partition this worker owns, in ordered mode: a reader and L key lanes.
 *
 * Takeover first: before reading anything new, the reader claims the partition's whole pending list (XPENDING
 * + XCLAIM with no idle minimum, in id order, inside read-entries.lua) onto the partition's consumer, so the
 * former owner's unfinished entries are worked before any later entry (Pulsar's "draining hashes" idea). Then
 * new entries (XREADGROUP >). Every read checks the lease inside the script: a worker that lost the partition
 * cannot pull entries into the pending list behind the new owner's back.
 *
 * Each entry goes to lane fnv(key) mod L; a lane takes batches of the first entry of each key (lanes.ts) one
 * at a time, so a key's events commit in stream order and different keys run in parallel.
 */
export interface PartitionRunnerDeps {
  partition: number;
  /** Stream client of this partition's stream, consumer `partition-<p>`, reads guarded by the lease. */
  client: StreamClient;
  /** Runs one lane batch (lane-batch.ts), through the worker's shared concurrency limit. */
  runBatch: (batch: readonly StreamEntry[]) => Promise<LaneBatchResult>;
  lanes: number;
  batchSize: number;
  /** Entries this partition may hold at once, and their bytes. */
  maxHeld: number;
  maxHeldBytes: number;
  startId: string;
  pollMs: number;
  /**
   * What an idle reader waits on instead of a timer: the partition's doorbell (doorbells.ts). It must
   * resolve by `timeoutMs` or when `signal` aborts.
   */
  idleWait?: (timeoutMs: number, signal: AbortSignal) => Promise<void>;
  logger: Logger;
  /** The lease is lost (read refused) or the fencing check refused a batch. */
  onLost: (why: 'lease' | 'fenced') => void;
  random: () => number;
}

export interface PartitionRunner {
  readonly partition: number;
  /** Entries held (read, not finished). */
  held(): number;
  /** Cooperative stop: read nothing more, let running batches finish; the rest stays pending for the next owner. */
  stop(): Promise<void>;
  /** Runs until stopped; resolves when its reader and lanes have ended. */
  readonly done: Promise<void>;
}

interface Lane {
  queue: StreamEntry[];
  running: boolean;
}

export function startPartitionRunner(deps: PartitionRunnerDeps): PartitionRunner {
  const { client, logger } = deps;
  const stop = new AbortController();
  const wakeup = createWakeup();
  const lanes: Lane[] = Array.from({ length: Math.max(1, deps.lanes) }, () => ({
    queue: [],
    running: false,
  }));
  let held = 0;
  let heldBytes = 0;
  const sizes = new Map<string, number>();
  const laneTasks: Promise<void>[] = [];

  function enqueue(entries: readonly StreamEntry[]): void {
    for (const e of entries) {
      if (sizes.has(e.id)) continue;
      sizes.set(e.id, e.size ?? 0);
      held += 1;
      heldBytes += e.size ?? 0;
      (lanes[laneOf(entryKey(e), lanes.length)] as Lane).queue.push(e);
    }
    wakeup.wake();
  }

  function finish(lane: Lane, ids: readonly string[]): void {
    if (ids.length === 0) return;
    const gone = new Set(ids);
    lane.queue = lane.queue.filter((e) => !gone.has(e.id));
    for (const id of ids) {
      held -= 1;
      heldBytes -= sizes.get(id) ?? 0;
      sizes.delete(id);
    }
    wakeup.wake();
  }

  async function runLane(lane: Lane): Promise<void> {
    while (!stop.signal.aborted) {
      if (lane.queue.length === 0) {
        await wakeup.wait(deps.pollMs);
        continue;
      }
      const result = await deps.runBatch(pickBatch(lane.queue, deps.batchSize));
      finish(lane, result.done);
      if (result.fenced) {
        lost('fenced');
        return;
      }
      if (result.delayMs > 0) await sleep(result.delayMs, stop.signal);
    }
  }

  function lost(why: 'lease' | 'fenced'): void {
    if (stop.signal.aborted) return;
    stop.abort();
    wakeup.wake();
    deps.onLost(why);
  }

  /** Room for a read: entries and bytes this partition may still take. */
  function room(): { count: number; bytes: number } {
    const count = Math.max(0, deps.maxHeld - held);
    const bytes = Math.max(0, deps.maxHeldBytes - heldBytes);
    return { count: count < Math.min(deps.batchSize, deps.maxHeld) && held > 0 ? 0 : count, bytes };
  }

  async function step<T>(
    what: string,
    call: () => Promise<T>,
    failures: { n: number },
  ): Promise<T | undefined> {
    try {
      const value = await call();
      failures.n = 0;
      return value;
    } catch (error) {
      if (isLeaseLostError(error)) {
        lost('lease');
        return undefined;
      }
      if (isNoGroupError(error)) await client.createGroup(deps.startId).catch(() => undefined);
      logger.warn({ err: describeError(error), partition: deps.partition }, `${what} failed, retrying`);
      await sleep(Math.min(5000, 50 * 2 ** Math.min(failures.n++, 7)), stop.signal);
      return undefined;
    }
  }

  async function read(): Promise<void> {
    const failures = { n: 0 };
    await step('creating the group', () => client.createGroup(deps.startId), failures);
    // 1. The former owner's pending entries, all of them, before anything new.
    let cursor = '0-0';
    let claimed = 0;
    while (!stop.signal.aborted) {
      const { count, bytes } = room();
      if (count === 0 || bytes === 0) {
        await wakeup.wait(deps.pollMs);
        continue;
      }
      const page = await step(
        'claiming the pending list',
        () => client.autoClaim(0, cursor, count, bytes),
        failures,
      );
      if (!page) continue;
      if (page.deletedIds.length > 0) await client.ack(page.deletedIds).catch(() => undefined);
      enqueue(page.entries);
      claimed += page.entries.length;
      cursor = page.cursor;
      if (cursor === '0-0') break;
    }
    if (claimed > 0) logger.info({ partition: deps.partition, claimed }, 'took over pending entries');
    // 2. New entries.
    let empty = 0;
    while (!stop.signal.aborted) {
      const { count, bytes } = room();
      if (count === 0 || bytes === 0) {
        await wakeup.wait(deps.pollMs);
        continue;
      }
      const page = await step('reading', () => client.readNew(count, bytes), failures);
      if (!page) continue;
      enqueue(page.entries);
      if (page.entries.length > 0 || page.deadLettered.length > 0) empty = 0;
      else if (deps.idleWait) await deps.idleWait(idlePollDelay(empty++, deps.pollMs), stop.signal);
      else await wakeup.wait(idlePollDelay(empty++, deps.pollMs));
    }
  }

  for (const lane of lanes) laneTasks.push(runLane(lane));
  const done = Promise.all([read(), ...laneTasks]).then(() => undefined);

  return {
    partition: deps.partition,
    held: () => held,
    async stop() {
      stop.abort();
      wakeup.wake();
      await done;
    },
    done,
  };
}
