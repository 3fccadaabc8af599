import type { RedisClient } from '../../lib/redis/client.ts';
import { disconnectRedis } from '../../lib/redis/close.ts';
import { createWakeup, sleep, type Wakeup } from '../wakeup.ts';

/**
 * The doorbells of a partitioned stream's partitions, heard on one connection: a loop of multi-key BLPOPs
 * over the partitions this worker reads, so an idle partition reads a new entry as soon as a producer rings
 * (producer.ts `ringDoorbell`) instead of at its next poll (STREAMSINK_POLL_MS). The unpartitioned worker
 * does the same with one key on its reader connection (read-loop.ts); a partitioned worker's partitions
 * share their reader, so their doorbells get a connection of their own.
 *
 * A ring is kept until that partition next waits: one that comes while its reader is busy is not lost (the
 * one-item list it popped would otherwise have told a BLPOP). Polling stays as the fallback, for producers
 * that do not ring (a raw XADD), for the moments the listener is reconnecting, and on Redis Cluster, where
 * the partitions' doorbells live in different slots and one BLPOP cannot hold them (CROSSSLOT).
 */
export interface DoorbellListener {
  /**
   * Resolve when `partition`'s doorbell rings (or rang since its last wait), after `timeoutMs`, or when
   * `signal` aborts, whichever is first.
   */
  wait(partition: number, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Stop listening and close the connection. Safe to call twice. */
  close(): Promise<void>;
}

export interface DoorbellListenerOptions {
  /** A connection of its own (BLPOP holds it); closed by `close`. */
  redis: RedisClient;
  /** Each partition's doorbell key (keys.ts `doorbell`). */
  doorbells: ReadonlyMap<number, string>;
  /**
   * The partitions to listen for now (default: all): ordered mode listens only for those it owns, so it
   * does not pop a ring meant for another worker. Asked again after each BLPOP.
   */
  listening?: () => Iterable<number>;
  /** Longest BLPOP, seconds: how soon a change of `listening` takes effect. */
  blockSeconds: number;
  /**
   * A BLPOP that failed (refused by an ACL, say; a lost connection just waits for the reconnect): the loop
   * listens again after 1 s, doubling to 30 s while it keeps failing.
   */
  onError?: (error: unknown) => void;
}

const NOTHING_TO_HEAR_MS = 200;
const MAX_RETRY_MS = 30_000;

export function createDoorbellListener(options: DoorbellListenerOptions): DoorbellListener {
  const { redis, doorbells } = options;
  const partitionOf = new Map<string, number>([...doorbells].map(([p, key]) => [key, p]));
  // One wakeup per partition, keeping a ring that finds its reader busy for the reader's next wait.
  const wakeups = new Map<number, Wakeup>(
    [...doorbells.keys()].map((p) => [p, createWakeup({ keepUnheard: true })]),
  );
  const stop = new AbortController();
  // A BLPOP that a dropped connection never answers (ioredis keeps it for a reconnect that close() stopped)
  // must not hold up the loop's end.
  const stopped = new Promise<null>((resolve) =>
    stop.signal.addEventListener('abort', () => resolve(null), { once: true }),
  );

  function keysNow(): string[] {
    const keys: string[] = [];
    for (const p of options.listening ? options.listening() : doorbells.keys()) {
      const key = doorbells.get(p);
      if (key !== undefined) keys.push(key);
    }
    return keys;
  }

  async function listen(): Promise<void> {
    let failures = 0;
    while (!stop.signal.aborted) {
      const keys = keysNow();
      if (keys.length === 0) {
        // Nothing owned yet (ordered mode, before the first assignment): look again shortly, no Redis call.
        await sleep(NOTHING_TO_HEAR_MS, stop.signal);
        continue;
      }
      try {
        const popped = await Promise.race([redis.blpop(...keys, options.blockSeconds), stopped]);
        failures = 0;
        const partition = popped ? partitionOf.get(popped[0]) : undefined;
        if (partition !== undefined) wakeups.get(partition)?.wake();
      } catch (error) {
        if (stop.signal.aborted) return;
        options.onError?.(error);
        await sleep(Math.min(MAX_RETRY_MS, 1000 * 2 ** failures++), stop.signal);
      }
    }
  }
  const loop = listen();

  return {
    wait(partition, timeoutMs, signal) {
      const wakeup = wakeups.get(partition);
      return wakeup ? wakeup.wait(timeoutMs, signal) : sleep(timeoutMs, signal);
    },
    async close() {
      if (stop.signal.aborted) return;
      stop.abort();
      // Ends a BLPOP in progress instead of waiting out its timeout.
      disconnectRedis(redis);
      await loop;
      for (const wakeup of wakeups.values()) wakeup.wake();
    },
  };
}
