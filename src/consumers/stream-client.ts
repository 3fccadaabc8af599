import { encodedSize } from '../lib/envelope.ts';
import type { ReasonCode } from '../lib/errors.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { loadLuaScript } from '../lib/redis/script-loader.ts';
import {
  afterLargeEntry,
  afterPlainRead,
  initialReadPath,
  planRead,
  type ReadPathOptions,
} from './read-path.ts';
import { canTripwireRead, tripwireRead } from './tripwire-read.ts';
import type { StreamEntry } from './types.ts';
import { markInvalidUtf8 } from './utf8-check.ts';
import { sleep } from './wakeup.ts';

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
   * New entries (XREADGROUP >, without blocking): at most `count`, about `maxBytes`. Entries over the payload
   * limit are dead-lettered inside Redis and only reported. Through read-entries.lua, or, with `plainReads`, a
   * plain XREADGROUP cut off past `maxBytes` (read-path.ts, tripwire-read.ts).
   */
  readNew(count: number, maxBytes: number): Promise<ReadPage>;
  /** One XACK for all `ids`; returns how many were pending. */
  ack(ids: readonly string[]): Promise<number>;
  /**
   * Wait up to `timeoutMs` for a producer to ring the stream's doorbell (BLPOP): returns as soon as one does,
   * so an idle worker reads a new entry at once instead of at its next poll. Without a doorbell key, or when
   * the BLPOP fails, it sleeps. Never throws. `signal` ends a wait without a doorbell key at once (a BLPOP
   * ends at its timeout, or when the worker's shutdown unblocks its connection).
   */
  waitForNew(timeoutMs: number, signal?: AbortSignal): Promise<void>;
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
  /**
   * A plain read whose reply passed the byte budget was cut off (tripwire-read.ts): what it took stays pending
   * on this consumer until the reclaimer claims it through the script (STREAMSINK_CLAIM_IDLE_MS).
   */
  cutOff?: { bytesReceived: number; byteLimit: number };
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
   * Without `doorbell`: what waitForNew waits on instead of a plain timer (a partition's doorbell heard by
   * partitions/doorbells.ts); it must resolve by `timeoutMs`, or when `signal` aborts.
   */
  idleWait?: (timeoutMs: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Read new entries with a plain XREADGROUP where it is safe (read-path.ts): only for a connection this
   * client's read loop has to itself, set up with tripwire-read.ts's READER_OPTIONS, on a single node, without
   * a lease. Elsewhere, or when not given, every read goes through read-entries.lua.
   */
  plainReads?: Pick<ReadPathOptions, 'cooldownMs'>;
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
  idleWait,
  lease,
  plainReads,
}: StreamClientOptions): StreamClient {
  const plain =
    plainReads && limits && !lease && canTripwireRead(redis)
      ? { redis, options: { maxPayloadBytes: limits.maxPayloadBytes, cooldownMs: plainReads.cooldownMs } }
      : undefined;
  let readPath = initialReadPath({ maxPayloadBytes: limits?.maxPayloadBytes ?? 1 });

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
      const now = limits?.now ?? Date.now;
      const plan = plain ? planRead(readPath, { count, bytes: maxBytes, now: now() }) : undefined;
      if (plain && plan?.path === 'native') {
        const result = await tripwireRead(plain.redis, { stream, group, consumer, ...plan });
        if (result?.tripped) {
          readPath = afterLargeEntry(readPath, { now: now() }, plain.options);
          return {
            entries: [],
            deadLettered: [],
            cutOff: { bytesReceived: result.bytesReceived, byteLimit: plan.byteLimit },
          };
        }
        if (result) {
          readPath = afterPlainRead(readPath, {
            entries: result.entries.length,
            bytesReceived: result.bytesReceived,
          });
          const { entries, oversize } = measurePlainEntries(result.entries, plain.options.maxPayloadBytes);
          // Before the oversize claims below: readEntries checks the entries it returns itself.
          await markInvalidUtf8(redis, stream, entries);
          const deadLettered: ReadPage['deadLettered'] = [];
          if (oversize.length > 0) {
            readPath = afterLargeEntry(readPath, { now: now() }, plain.options);
            // Claimed again through the script, which measures it in Redis and dead-letters it there.
            for (const id of oversize) {
              const page = await readEntries('claim', 1, Number.MAX_SAFE_INTEGER, ['0', id, '1000000', id]);
              deadLettered.push(...page.deadLettered);
              entries.push(...page.entries);
            }
          }
          return { entries, deadLettered };
        }
      }
      const { entries, deadLettered } = await readEntries('new', count, maxBytes, []);
      return { entries, deadLettered };
    },

    async waitForNew(timeoutMs, signal) {
      const ms = Math.max(1, Math.round(timeoutMs));
      if (!doorbell) {
        await (idleWait ? idleWait(ms, signal) : sleep(ms, signal));
        return;
      }
      try {
        await redis.blpop(doorbell, ms / 1000);
      } catch {
        // The connection dropped (the reader's fails at once, tripwire-read.ts): wait as if polling; the next
        // read meets the outage, if there is one, and backs off.
        await new Promise((resolve) => setTimeout(resolve, ms));
      }
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
        '+',
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

/**
 * Entries of a plain read with their sizes: UTF-16 code units of their fields (the bytes of an ASCII entry;
 * what a JS string of them holds), and, for those that may pass `maxPayloadBytes` in UTF-8, the exact bytes.
 * Entries over the limit are listed apart, to be dead-lettered through the script.
 */
export function measurePlainEntries(
  reply: ReadonlyArray<[string, string[]]>,
  maxPayloadBytes: number,
): { entries: StreamEntry[]; oversize: string[] } {
  const entries: StreamEntry[] = [];
  const oversize: string[] = [];
  for (const [id, fields] of reply) {
    let size = 0;
    for (let i = 0; i < fields.length; i++) size += (fields[i] as string).length;
    // A code unit is 1 to 3 bytes in UTF-8: only an entry that could pass the limit is measured exactly.
    if (size * 3 > maxPayloadBytes) size = encodedSize(fields);
    if (size > maxPayloadBytes) oversize.push(id);
    else entries.push({ id, deliveryCount: 1, size, fields });
  }
  return { entries, oversize };
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
