import { mapBounded } from '../admin/stream-describe.ts';
import { createStreamClient } from '../consumers/stream-client.ts';
import { readStreamStats, type StreamStats } from '../consumers/stream-stats.ts';
import type { RedisClient } from '../lib/redis/client.ts';
import { type PartitionKeys, partitionLeaseKey } from '../lib/redis/keys.ts';
import { entryIdMs } from '../lib/redis/stream-ids.ts';
import { formatDuration } from './format-duration.ts';

/**
 * `streamsink status` on a partitioned stream: the group's state per partition (length, lag, pending, oldest
 * pending, dead letters, and the partition's owner: the worker id in its lease key, set by ordered workers)
 * and the totals an operator checks first. The I/O reads each partition with its own commands (its keys share
 * one slot, so this runs on a cluster); building and formatting the report are pure.
 */
export interface PartitionStatus {
  partition: number;
  key: string;
  exists: boolean;
  /** False when the group was not created on this partition yet (no worker has read it). */
  hasGroup: boolean;
  length: number;
  deadLetter: number;
  lag: number | null;
  pending: number;
  oldestPendingId: string | null;
  /** The lease key's value: the worker that owns the partition (ordered consumption), or null. */
  owner: string | null;
  consumers: Array<{ name: string; pending: number; idleMs: number }>;
}

export interface PartitionedStatusReport {
  stream: string;
  partitioned: true;
  partitions: number;
  group: string;
  length: number;
  deadLetter: number;
  /** Sum over partitions; null when any partition's lag is unknown. */
  lag: number | null;
  pending: number;
  oldestPendingId: string | null;
  oldestPendingAgeSeconds: number | null;
  /** Partitions on which the group exists. */
  partitionsWithGroup: number;
  consumers: Array<{ name: string; pending: number; idleMs: number; partitions: number }>;
  parts: PartitionStatus[];
  dataLoss: DataLossReport;
}

/** The data-loss check's outcome, as status.ts reports it (checked per partition key, then combined). */
export interface DataLossReport {
  checked: boolean;
  suspected: boolean;
  signs: readonly string[];
  details: readonly string[];
  note?: string;
}

const PARALLEL = 16;

export async function readPartitionStatuses(
  redis: RedisClient,
  partitions: readonly PartitionKeys[],
  group: string,
): Promise<PartitionStatus[]> {
  return mapBounded(partitions, PARALLEL, async (keys) => {
    const [stats, owner] = await Promise.all([
      readStreamStats(redis, keys, group),
      redis.get(partitionLeaseKey(keys, group)),
    ]);
    const consumers = stats.group
      ? await createStreamClient({ redis, stream: keys.stream, group, consumer: '' }).consumers()
      : [];
    return toPartitionStatus(keys, stats, owner, consumers);
  });
}

export function toPartitionStatus(
  keys: PartitionKeys,
  stats: StreamStats,
  owner: string | null,
  consumers: PartitionStatus['consumers'],
): PartitionStatus {
  return {
    partition: keys.partition,
    key: keys.stream,
    exists: stats.streamExists,
    hasGroup: stats.group !== undefined,
    length: stats.streamLength,
    deadLetter: stats.deadLetterLength,
    // A partition nothing was published to has nothing to deliver, with or without the group.
    lag: stats.group ? stats.group.lag : stats.streamLength === 0 ? 0 : null,
    pending: stats.group?.pending ?? 0,
    oldestPendingId: stats.pendingSummary.count > 0 ? stats.pendingSummary.oldestId : null,
    owner,
    consumers,
  };
}

/** Pure: totals and the per-consumer view over all partitions. */
export function buildPartitionedReport(
  stream: string,
  group: string,
  parts: readonly PartitionStatus[],
  nowMs: number,
  dataLoss: DataLossReport,
): PartitionedStatusReport {
  let lag: number | null = 0;
  let oldest: string | null = null;
  const consumers = new Map<string, { name: string; pending: number; idleMs: number; partitions: number }>();
  for (const p of parts) {
    lag = lag === null || p.lag === null ? null : lag + p.lag;
    if (p.oldestPendingId !== null && (oldest === null || entryIdMs(p.oldestPendingId) < entryIdMs(oldest)))
      oldest = p.oldestPendingId;
    for (const c of p.consumers) {
      const seen = consumers.get(c.name) ?? { name: c.name, pending: 0, idleMs: c.idleMs, partitions: 0 };
      seen.pending += c.pending;
      seen.idleMs = Math.min(seen.idleMs, c.idleMs);
      seen.partitions += 1;
      consumers.set(c.name, seen);
    }
  }
  const oldestMs = oldest === null ? Number.NaN : entryIdMs(oldest);
  return {
    stream,
    partitioned: true,
    partitions: parts.length,
    group,
    length: sum(parts, (p) => p.length),
    deadLetter: sum(parts, (p) => p.deadLetter),
    lag,
    pending: sum(parts, (p) => p.pending),
    oldestPendingId: oldest,
    oldestPendingAgeSeconds: Number.isFinite(oldestMs) ? Math.max(0, nowMs - oldestMs) / 1000 : null,
    partitionsWithGroup: parts.filter((p) => p.hasGroup).length,
    consumers: [...consumers.values()].sort((a, b) => b.pending - a.pending || a.name.localeCompare(b.name)),
    parts: [...parts],
    dataLoss,
  };
}

/** Pure: the text an operator reads. */
export function formatPartitionedReport(r: PartitionedStatusReport, nowMs: number): string {
  const loss = r.dataLoss;
  const lines = [
    `data loss     ${
      loss.suspected
        ? `SUSPECTED: ${loss.signs.join(', ')} (Redis lost committed entries; see the warning on stderr)`
        : loss.checked
          ? 'none seen'
          : (loss.note ?? 'not checked')
    }`,
    `stream        ${r.stream} (${r.partitions} partitions)`,
    `length        ${r.length}`,
    `dead letters  ${r.deadLetter}${r.deadLetter > 0 ? '   (inspect with streamsink dlq)' : ''}`,
    `group         ${r.group} (on ${r.partitionsWithGroup} of ${r.partitions} partitions)`,
    `lag           ${r.lag ?? 'unknown (entries deleted before delivery, or a partition without the group)'}`,
    `pending       ${r.pending}`,
    `oldest        ${
      r.oldestPendingId === null
        ? '-'
        : `${r.oldestPendingId} (${r.oldestPendingAgeSeconds === null ? '?' : formatDuration(r.oldestPendingAgeSeconds * 1000)} old)`
    }`,
    `consumers     ${r.consumers.length}`,
  ];
  if (r.consumers.length > 0) {
    const width = Math.max(8, ...r.consumers.map((c) => c.name.length));
    lines.push(`  ${'NAME'.padEnd(width)}  ${'PENDING'.padStart(8)}  ${'PARTS'.padStart(5)}  IDLE`);
    for (const c of r.consumers)
      lines.push(
        `  ${c.name.padEnd(width)}  ${String(c.pending).padStart(8)}  ${String(c.partitions).padStart(5)}  ${formatDuration(c.idleMs)}`,
      );
  }
  lines.push('partitions');
  lines.push(
    `  ${'P'.padStart(4)}  ${'LENGTH'.padStart(8)}  ${'LAG'.padStart(8)}  ${'PENDING'.padStart(8)}  ${'DLQ'.padStart(6)}  ${'OLDEST'.padStart(8)}  OWNER`,
  );
  for (const p of r.parts) {
    const oldestMs = p.oldestPendingId === null ? Number.NaN : entryIdMs(p.oldestPendingId);
    const age = Number.isFinite(oldestMs) ? formatDuration(Math.max(0, nowMs - oldestMs)) : '-';
    const lag = p.hasGroup || p.lag === 0 ? String(p.lag ?? '?') : 'no group';
    lines.push(
      `  ${String(p.partition).padStart(4)}  ${String(p.length).padStart(8)}  ${lag.padStart(8)}  ` +
        `${String(p.pending).padStart(8)}  ${String(p.deadLetter).padStart(6)}  ${age.padStart(8)}  ${p.owner ?? '-'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  return items.reduce((n, item) => n + of(item), 0);
}
