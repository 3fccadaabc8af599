import type { ReasonCode } from '../lib/errors.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { loadLuaScript } from '../lib/redis/script-loader.ts';
import type { StreamEntry } from './types.ts';
import { markInvalidUtf8 } from './utf8-check.ts';

const DELETE_IDLE_CONSUMER = loadLuaScript(new URL('./delete-idle-consumer.lua', import.meta.url));
const READ_ENTRIES = loadLuaScript(new URL('./read-entries.lua', import.meta.url));

/**
 * The handful of Redis commands the worker uses, on one stream and group, and nothing else. The read loop gets
 * one over its own (blocking) connection; everything else shares another.
 */
export interface StreamClient {
  /** XGROUP CREATE ... MKSTREAM. `false` when the group already existed (BUSYGROUP). */
  createGroup(startId: string): Promise<boolean>;
  /**
   * New entries (XREADGROUP >, inside read-entries.lua, without blocking): at most `count`, stopping once they
   * add up to `maxBytes`. Entries over the payload limit are dead-lettered inside Redis and only reported.
   */
  readNew(count: number, maxBytes: number): Promise<ReadPage>;
  /** One XACK for all `ids`; returns how many were pending. */
  ack(ids: readonly string[]): Promise<number>;
  /**
   * Wait up to `timeoutMs` for a producer to ring the stream's doorbell (BLPOP): returns as soon as one does,
   * so an idle worker reads a new entry at once instead of at its next poll. Without a doorbell key it sleeps.
   */
  waitForNew(timeoutMs: number): Promise<void>;
  /**
   * Claim entries idle at least `minIdleMs` (XPENDING IDLE, then XCLAIM one by one inside read-entries.lua),
   * at most `count` and about `maxBytes`, with their raised delivery counts. Entries over the payload limit
   * or past STREAMSINK_MAX_DELIVERIES are dead-lettered inside Redis, never loaded; a suspect comes alone.
   */
  autoClaim(minIdleMs: number, cursor: string, count: number, maxBytes?: number): Promise<AutoClaimPage>;
  /**
   * XCLAIM ids self minIdleMs JUSTID: resets idle time (a lease renewal) without raising the delivery count.
   * Entries idle less than minIdleMs are left alone: another worker claimed them moments ago.
   */
  renewLease(ids: readonly string[], minIdleMs?: number): Promise<string[]>;
  /**
   * XCLAIM ids self 0 RETRYCOUNT n JUSTID: sets the delivery count of entries this consumer holds (the
   * quarantine lowers a waiting suspect's count and sets it back before it runs; see quarantine.ts).
   */
  setDeliveryCount(ids: readonly string[], count: number): Promise<string[]>;
  /** XPENDING over [start, end] for this consumer: id -> delivery count. */
  pendingCounts(start: string, end: string, count: number): Promise<Map<string, number>>;
  /** XINFO CONSUMERS. */
  consumers(): Promise<ConsumerInfo[]>;
  /** Delete `consumer` only if it has no pending entries (atomic, Lua). */
  deleteConsumerIfIdle(consumer: string): Promise<boolean>;
}

export interface ReadPage {
  entries: StreamEntry[];
  /** Entries this call moved to the dead-letter stream inside Redis (never loaded here). */
  deadLettered: Array<{ id: string; reason: ReasonCode }>;
}

export interface AutoClaimPage extends ReadPage {
  /** Cursor for the next call; `0-0` when the scan is complete. */
  cursor: string;
  /** Pending ids whose entries no longer exist in the stream (trimmed or XDEL'd); Redis 7 drops them from the PEL. */
  deletedIds: string[];
}

/** What read-entries.lua needs besides the call's own arguments. */
export interface ReadLimits {
  maxPayloadBytes: number;
  maxDeliveries: number;
  /** Delivery count from which a claimed entry is a suspect (quarantine.ts). */
  suspectThreshold: number;
  pipelineName: string;
  pipelineVersion: string;
  /** The dead-letter stream of `stream`. */
  deadLetterKey: string;
  now?: () => number;
}

export interface ConsumerInfo {
  name: string;
  pending: number;
  idleMs: number;
}

export interface StreamClientOptions {
  redis: Redis;
  stream: string;
  group: string;
  consumer: string;
  /** Needed by readNew and autoClaim only (`status` uses a client without them). */
  limits?: ReadLimits;
  /** The stream's doorbell list (keys.ts); waitForNew blocks on it. */
  doorbell?: string;
  /**
   * Ordered partitions: readNew and autoClaim read only while this lease (same hash tag as `stream`) holds
   * `token`, checked inside the read script; otherwise they fail with LEASELOST (isLeaseLostError).
   */
  lease?: { key: string; token: string };
}

type ScriptReply = [string, Array<string | number | string[]>, string[], string[]];

export function createStreamClient({
  redis,
  stream,
  group,
  consumer,
  limits,
  doorbell,
  lease,
}: StreamClientOptions): StreamClient {
  async function readEntries(mode: 'new' | 'claim', count: number, maxBytes: number, claim: string[]) {
    if (!limits) throw new TypeError('this stream client was created without read limits');
    const now = limits.now ?? Date.now;
    const reply = (await READ_ENTRIES.run(
      redis,
      lease ? [stream, limits.deadLetterKey, lease.key] : [stream, limits.deadLetterKey],
      [
        mode,
        group,
        consumer,
        count,
        Math.max(1, Math.floor(maxBytes)),
        limits.maxPayloadBytes,
        limits.maxDeliveries,
        new Date(now()).toISOString(),
        limits.pipelineName,
        limits.pipelineVersion,
        ...claim,
        ...(lease ? [lease.token] : []),
      ],
    )) as ScriptReply;
    const [cursor, flat, dead, deleted] = reply;
    const entries: StreamEntry[] = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      entries.push({
        id: flat[i] as string,
        deliveryCount: Number(flat[i + 1]),
        size: Number(flat[i + 2]),
        fields: flat[i + 3] as string[],
      });
    }
    const deadLettered: ReadPage['deadLettered'] = [];
    for (let i = 0; i + 1 < dead.length; i += 2)
      deadLettered.push({ id: dead[i] as string, reason: dead[i + 1] as ReasonCode });
    await markInvalidUtf8(redis, stream, entries);
    return { cursor, entries, deadLettered, deletedIds: deleted };
  }

  return {
    async createGroup(startId) {
      try {
        await redis.xgroup('CREATE', stream, group, startId, 'MKSTREAM');
        return true;
      } catch (error) {
        if (error instanceof Error && error.message.startsWith('BUSYGROUP')) return false;
        throw error;
      }
    },

    async readNew(count, maxBytes) {
      const { entries, deadLettered } = await readEntries('new', count, maxBytes, []);
      return { entries, deadLettered };
    },

    async waitForNew(timeoutMs) {
      const ms = Math.max(1, Math.round(timeoutMs));
      if (!doorbell) {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return;
      }
      await redis.blpop(doorbell, ms / 1000);
    },

    async ack(ids) {
      if (ids.length === 0) return 0;
      return await redis.xack(stream, group, ...ids);
    },

    async autoClaim(minIdleMs, cursor, count, maxBytes = Number.MAX_SAFE_INTEGER) {
      return await readEntries('claim', count, maxBytes, [
        String(minIdleMs),
        cursor === '0-0' ? '-' : cursor,
        String(limits?.suspectThreshold ?? 2),
      ]);
    },

    async renewLease(ids, minIdleMs = 0) {
      if (ids.length === 0) return [];
      // By `call`: ioredis 6's typed xclaim has no overload for a spread of ids on a Redis | Cluster client.
      return (await redis.call(
        'XCLAIM',
        stream,
        group,
        consumer,
        String(minIdleMs),
        ...ids,
        'JUSTID',
      )) as string[];
    },

    async setDeliveryCount(ids, count) {
      if (ids.length === 0) return [];
      return (await redis.call(
        'XCLAIM',
        stream,
        group,
        consumer,
        0,
        ...ids,
        'RETRYCOUNT',
        count,
        'JUSTID',
      )) as string[];
    },

    async pendingCounts(start, end, count) {
      const reply = (await redis.xpending(stream, group, start, end, count, consumer)) as Array<
        [string, string, number, number]
      >;
      const counts = new Map<string, number>();
      for (const [id, , , deliveries] of reply) counts.set(id, Number(deliveries));
      return counts;
    },

    async consumers() {
      const reply = (await redis.xinfo('CONSUMERS', stream, group)) as Array<Array<string | number>>;
      return reply.map((flat) => {
        const info = new Map<string, string | number>();
        for (let i = 0; i + 1 < flat.length; i += 2)
          info.set(String(flat[i]), flat[i + 1] as string | number);
        return {
          name: String(info.get('name')),
          pending: Number(info.get('pending') ?? 0),
          idleMs: Number(info.get('idle') ?? 0),
        };
      });
    },

    async deleteConsumerIfIdle(name) {
      return Number(await DELETE_IDLE_CONSUMER.run(redis, [stream], [group, name])) === 1;
    },
  };
}

/** A lease-guarded read found the partition's lease gone or held by another worker (read-entries.lua). */
export function isLeaseLostError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('LEASELOST');
}

/** The group or its stream vanished (deleted key, FLUSHDB, failover to an empty replica). */
export function isNoGroupError(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOGROUP');
}

/**
 * Same, as seen by a blocked XREADGROUP: Redis 7 unblocks it with `UNBLOCKED the stream key no longer exists`
 * when the key is deleted under it, and answers later calls with NOGROUP.
 */
export function isGroupGoneError(error: unknown): boolean {
  return (
    isNoGroupError(error) ||
    (error instanceof Error &&
      error.message.startsWith('UNBLOCKED') &&
      /no longer exists/.test(error.message))
  );
}
