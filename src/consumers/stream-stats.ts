import type { Redis } from '../lib/redis/client.ts';
import type { StreamKeys } from '../lib/redis/keys.ts';
import { entryIdMs } from '../lib/redis/stream-ids.ts';

/**
 * The Redis side of a consumer group, read with four cheap commands in one round trip (XINFO GROUPS,
 * XPENDING summary, XLEN of the stream and of its dead-letter stream; all O(1) or O(groups)). Parsing is
 * pure and apart from the I/O so it is tested on literal replies.
 */

export interface GroupInfo {
  name: string;
  consumers: number;
  /** Entries delivered and not yet acknowledged (the group's PEL size). */
  pending: number;
  lastDeliveredId: string;
  entriesRead: number | null;
  /** Entries not yet delivered to the group; null when Redis cannot tell (after XDEL in the unread part). */
  lag: number | null;
}

export interface PendingSummary {
  count: number;
  /** Smallest pending entry id: the oldest unacknowledged event, since ids grow with time. */
  oldestId: string | null;
  newestId: string | null;
  consumers: Array<{ name: string; pending: number }>;
}

export interface StreamStats {
  streamExists: boolean;
  streamLength: number;
  deadLetterLength: number;
  /** Undefined when the group does not exist (yet, or it vanished). */
  group: GroupInfo | undefined;
  pendingSummary: PendingSummary;
}

/** The values the sampler puts into its gauges. NaN means "unknown", which Prometheus renders as a gap. */
export interface StreamGauges {
  lag: number;
  pending: number;
  oldestPendingAgeSeconds: number;
  deadLetter: number;
  streamLength: number;
}

const EMPTY_PENDING: PendingSummary = { count: 0, oldestId: null, newestId: null, consumers: [] };

/** XINFO GROUPS reply (Redis 7: name, consumers, pending, last-delivered-id, entries-read, lag). */
export function parseXinfoGroups(reply: unknown): GroupInfo[] {
  if (!Array.isArray(reply)) throw new TypeError('XINFO GROUPS: expected an array');
  return reply.map((raw) => {
    const f = fieldMap(raw);
    const name = f.get('name');
    if (typeof name !== 'string') throw new TypeError('XINFO GROUPS: group without a name');
    return {
      name,
      consumers: toInt(f.get('consumers')) ?? 0,
      pending: toInt(f.get('pending')) ?? 0,
      lastDeliveredId: String(f.get('last-delivered-id') ?? '0-0'),
      entriesRead: toInt(f.get('entries-read')),
      lag: toInt(f.get('lag')),
    };
  });
}

/** XPENDING key group (summary form): [count, smallest id, greatest id, [[consumer, count], ...]]. */
export function parseXpendingSummary(reply: unknown): PendingSummary {
  if (!Array.isArray(reply) || reply.length < 4) throw new TypeError('XPENDING: expected a 4-item summary');
  const [count, oldest, newest, perConsumer] = reply as [unknown, unknown, unknown, unknown];
  const consumers = Array.isArray(perConsumer)
    ? perConsumer.map((pair) => {
        const [name, n] = Array.isArray(pair) ? pair : [];
        return { name: String(name), pending: toInt(n) ?? 0 };
      })
    : [];
  return {
    count: toInt(count) ?? 0,
    oldestId: typeof oldest === 'string' ? oldest : null,
    newestId: typeof newest === 'string' ? newest : null,
    consumers,
  };
}

export function toGauges(stats: StreamStats, nowMs: number): StreamGauges {
  const group = stats.group;
  const oldestMs = stats.pendingSummary.oldestId ? entryIdMs(stats.pendingSummary.oldestId) : Number.NaN;
  let lag: number;
  if (!stats.streamExists) lag = 0;
  else if (!group) lag = Number.NaN;
  else lag = group.lag ?? Number.NaN;
  return {
    lag,
    pending: group?.pending ?? 0,
    // Clock skew between Redis and this host could make a fresh entry look a few ms in the future.
    oldestPendingAgeSeconds:
      stats.pendingSummary.count > 0 && Number.isFinite(oldestMs) ? Math.max(0, nowMs - oldestMs) / 1000 : 0,
    deadLetter: stats.deadLetterLength,
    streamLength: stats.streamLength,
  };
}

/** The Redis commands the stats reader uses: one pipeline (one round trip). */
export type StatsRedis = Pick<Redis, 'pipeline'>;

/**
 * Read the stats of one stream and group. A missing stream is not an error (the worker recreates it); any
 * other command error is thrown.
 */
export async function readStreamStats(
  redis: StatsRedis,
  keys: StreamKeys,
  group: string,
): Promise<StreamStats> {
  const results = await redis
    .pipeline()
    .xinfo('GROUPS', keys.stream)
    .xpending(keys.stream, group)
    .xlen(keys.stream)
    .xlen(keys.deadLetter)
    .exec();
  if (results?.length !== 4) throw new Error('stats pipeline returned no results');
  const [xinfo, xpending, xlen, dlqLen] = results as Array<[Error | null, unknown]>;
  const errorOf = (r: [Error | null, unknown] | undefined) => r?.[0] ?? null;
  const xinfoError = errorOf(xinfo);
  const streamExists = !(xinfoError && /no such key/i.test(xinfoError.message));
  if (xinfoError && streamExists) throw xinfoError;
  for (const r of [xlen, dlqLen]) {
    const e = errorOf(r);
    if (e) throw e;
  }
  const groups = streamExists ? parseXinfoGroups(xinfo?.[1]) : [];
  const groupInfo = groups.find((g) => g.name === group);
  let pendingSummary = EMPTY_PENDING;
  const pendingError = errorOf(xpending);
  if (pendingError) {
    // NOGROUP: the group vanished between the commands or does not exist yet; nothing is pending in it.
    if (!/NOGROUP|no such key/i.test(pendingError.message)) throw pendingError;
  } else if (groupInfo) {
    pendingSummary = parseXpendingSummary(xpending?.[1]);
  }
  return {
    streamExists,
    streamLength: toInt(xlen?.[1]) ?? 0,
    deadLetterLength: toInt(dlqLen?.[1]) ?? 0,
    group: groupInfo,
    pendingSummary,
  };
}

function fieldMap(raw: unknown): Map<string, unknown> {
  if (!Array.isArray(raw) || raw.length % 2 !== 0) {
    throw new TypeError('expected a flat field list');
  }
  const m = new Map<string, unknown>();
  for (let i = 0; i < raw.length; i += 2) m.set(String(raw[i]), raw[i + 1]);
  return m;
}

function toInt(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return null;
}
