import type { Redis } from 'ioredis';
import { loadLuaScript } from '../lib/lua-script.ts';
import type { StreamEntry } from './types.ts';

const DELETE_IDLE_CONSUMER = loadLuaScript(new URL('./delete-idle-consumer.lua', import.meta.url));

/**
 * The handful of Redis commands the worker uses, on one stream and group, and nothing else. The read loop gets
 * one over its own (blocking) connection; everything else shares another.
 */
export interface StreamClient {
  /** XGROUP CREATE ... MKSTREAM. `false` when the group already existed (BUSYGROUP). */
  createGroup(startId: string): Promise<boolean>;
  /** XREADGROUP GROUP g c COUNT n BLOCK ms STREAMS s >. New entries have delivery count 1. */
  readNew(count: number, blockMs: number): Promise<StreamEntry[]>;
  /** One XACK for all `ids`; returns how many were pending. */
  ack(ids: readonly string[]): Promise<number>;
  /** XAUTOCLAIM to this consumer. Delivery counts are not in the reply: see `pendingCounts`. */
  autoClaim(minIdleMs: number, cursor: string, count: number): Promise<AutoClaimPage>;
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

export interface AutoClaimPage {
  /** Cursor for the next call; `0-0` when the scan is complete. */
  cursor: string;
  /** Claimed entries, with deliveryCount 0 until filled in from XPENDING. */
  entries: StreamEntry[];
  /** Pending ids whose entries no longer exist in the stream (trimmed or XDEL'd); Redis 7 drops them from the PEL. */
  deletedIds: string[];
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
}

type RawEntry = [string, string[] | null];

export function createStreamClient({ redis, stream, group, consumer }: StreamClientOptions): StreamClient {
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

    async readNew(count, blockMs) {
      const reply = (await redis.xreadgroup(
        'GROUP',
        group,
        consumer,
        'COUNT',
        count,
        'BLOCK',
        blockMs,
        'STREAMS',
        stream,
        '>',
      )) as Array<[string, RawEntry[]]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      const out: StreamEntry[] = [];
      for (const [id, fields] of entries) out.push({ id, fields: fields ?? [], deliveryCount: 1 });
      return out;
    },

    async ack(ids) {
      if (ids.length === 0) return 0;
      return await redis.xack(stream, group, ...ids);
    },

    async autoClaim(minIdleMs, cursor, count) {
      const reply = (await redis.xautoclaim(stream, group, consumer, minIdleMs, cursor, 'COUNT', count)) as [
        string,
        RawEntry[],
        string[]?,
      ];
      const entries: StreamEntry[] = [];
      const deletedIds = [...(reply[2] ?? [])];
      for (const [id, fields] of reply[1]) {
        // Redis 6.2 returned deleted entries inline with nil fields; 7 lists them in the third element.
        if (fields === null) deletedIds.push(id);
        else entries.push({ id, fields, deliveryCount: 0 });
      }
      return { cursor: reply[0], entries, deletedIds };
    },

    async renewLease(ids, minIdleMs = 0) {
      if (ids.length === 0) return [];
      return (await redis.xclaim(stream, group, consumer, minIdleMs, ...ids, 'JUSTID')) as string[];
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
