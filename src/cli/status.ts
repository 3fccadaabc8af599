import type { DataLossSign } from '../consumers/data-loss.ts';
import { createStreamClient } from '../consumers/stream-client.ts';
import { readStreamStats, type StreamStats } from '../consumers/stream-stats.ts';
import { checkDataLoss } from '../consumers/stream-watermarks.ts';
import { parseStatusConfig, redactUrl, type StatusConfig } from '../lib/config.ts';
import { describeError, StreamNotFoundError, UsageError } from '../lib/errors.ts';
import { readStreamLayout } from '../lib/partitions/stream-layout.ts';
import { createPool } from '../lib/pg.ts';
import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { type StreamKeys, streamKeys } from '../lib/redis/keys.ts';
import { entryIdMs } from '../lib/redis/stream-ids.ts';
import { oneShotRedis } from './connections.ts';
import { type CliContext, parseFlags, parseWithFlags } from './context.ts';
import { formatDuration } from './format-duration.ts';

export { formatDuration };

import {
  buildPartitionedReport,
  formatPartitionedReport,
  readPartitionStatuses,
} from './status-partitions.ts';

const HELP = `Usage: streamsink status [--stream S] [--group G] [--json] [--watch [--interval S]]

What an operator checks first, read-only: stream length, the group's lag (entries not yet delivered),
pending entries (delivered, not acknowledged) in total and per consumer with idle times, the age of the
oldest pending entry, and the dead-letter depth. On a partitioned stream: the totals, then one line per
partition with its length, lag, pending, dead letters, oldest pending age and owner (ordered workers). It also compares the stream with the watermarks the
workers record in Postgres and warns loudly when Redis lost entries streamsink had committed (a restart
without persistence, a failover to an empty replica): see "Redis lost data" in docs/operations.md.

Options:
  --stream S   logical stream name (or STREAMSINK_STREAM; default events)
  --group G    consumer group (or STREAMSINK_GROUP; default streamsink, the built-in pipelines' group)
  --json       print one JSON object instead of text (with --watch: one per line)
  --watch      print the report again every interval until Ctrl-C (at a terminal, in place)
  --interval S seconds between reports with --watch (default 2; fractions allowed)
  -h, --help   this text

Exit code: 0, 1 when the stream or group does not exist or Redis cannot be reached or refuses the
credentials (one line naming the server, secrets masked; no retries), 2 for bad usage or configuration, 3
when Redis lost data (the stream is missing, behind or recreated compared with what was committed; takes
precedence). With Postgres unreachable the data-loss check is skipped with a note and the other codes apply.
With --watch: 0 when stopped with Ctrl-C (3 when data loss was seen meanwhile); a missing stream or group
is reported and watched for.
Configuration: REDIS_URL, DATABASE_URL, STREAMSINK_KEY_PREFIX.
`;

export interface StatusReport {
  stream: string;
  key: string;
  length: number;
  deadLetter: number;
  group: string;
  /** Null when Redis cannot tell (entries deleted from the undelivered part of the stream). */
  lag: number | null;
  pending: number;
  lastDeliveredId: string;
  oldestPendingId: string | null;
  oldestPendingAgeSeconds: number | null;
  consumers: Array<{ name: string; pending: number; idleMs: number }>;
  dataLoss: DataLossReport;
}

/** The data-loss check: `checked: false` with a note when it could not run (Postgres unreachable, ...). */
export interface DataLossReport {
  checked: boolean;
  suspected: boolean;
  signs: DataLossSign[];
  details: string[];
  /** The highest entry id the group committed, as recorded: where to start looking for what was lost. */
  committedId?: string | null;
  note?: string;
}

/** Exit code when Redis lost data (documented in --help and docs/operations.md). */
export const EXIT_DATA_LOSS = 3;

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, FLAG_OPTIONS, HELP);
  if (flags.help === true) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const config = parseWithFlags(
    (env) => parseStatusConfig(env, { readFile: ctx.readFile, hostname: ctx.hostname }),
    ctx.env,
    flags,
    { stream: 'STREAMSINK_STREAM', group: 'STREAMSINK_GROUP' },
  );
  const interval = parseInterval(flags.interval);
  if (interval !== undefined && flags.watch !== true) throw new UsageError('--interval goes with --watch');
  const keys = streamKeys(config.redis.keyPrefix, config.stream);
  // A one-shot command fails at once, with one line, when Redis is down or refuses it (src/cli/connections.ts).
  const { redis, explain } = oneShotRedis(config.redis, `streamsink:status:${ctx.hostname}`);
  try {
    if (flags.watch !== true) return await statusOnce(config, ctx, redis, keys, flags.json === true);
    return await watch(config, ctx, redis, keys, flags.json === true, (interval ?? 2) * 1000);
  } catch (error) {
    throw explain(error);
  } finally {
    disconnectRedis(redis);
  }
}

/** One report: written to stdout (warnings to stderr); the exit code. */
async function statusOnce(
  config: StatusConfig,
  ctx: CliContext,
  redis: Redis,
  keys: StreamKeys,
  json: boolean,
): Promise<number> {
  const group = config.group;
  const layout = await readStreamLayout(redis, config.redis.keyPrefix, config.stream);
  if (layout.kind === 'partitioned') {
    const parts = await readPartitionStatuses(redis, layout.partitions, group);
    const streamKeyList = layout.partitions.map((k) => k.stream);
    const dataLoss = await dataLossReport(config, redis, streamKeyList, group, ctx.hostname);
    if (dataLoss.suspected) ctx.stderr.write(formatDataLossWarning(config.stream, group, dataLoss));
    const report = buildPartitionedReport(config.stream, group, parts, Date.now(), dataLoss);
    if (report.partitionsWithGroup === 0 && report.length > 0)
      ctx.stderr.write(
        `streamsink status: no partition of ${config.stream} has group ${JSON.stringify(group)}\n`,
      );
    ctx.stdout.write(json ? `${JSON.stringify(report)}\n` : formatPartitionedReport(report, Date.now()));
    if (dataLoss.suspected) return EXIT_DATA_LOSS;
    return report.partitionsWithGroup === 0 && report.length > 0 ? 1 : 0;
  }
  const stats = await readStreamStats(redis, keys, group);
  const dataLoss = await dataLossReport(config, redis, [keys.stream], group, ctx.hostname);
  if (dataLoss.suspected) ctx.stderr.write(formatDataLossWarning(keys.stream, group, dataLoss));
  if (!stats.streamExists) {
    if (dataLoss.suspected) return EXIT_DATA_LOSS;
    throw new StreamNotFoundError(keys.stream);
  }
  if (!stats.group) {
    ctx.stderr.write(`streamsink status: stream ${keys.stream} has no group ${JSON.stringify(group)}\n`);
    return dataLoss.suspected ? EXIT_DATA_LOSS : 1;
  }
  const consumers = await createStreamClient({
    redis,
    stream: keys.stream,
    group,
    consumer: '',
  }).consumers();
  const report = buildReport(keys.name, keys.stream, group, stats, consumers, Date.now(), dataLoss);
  ctx.stdout.write(json ? `${JSON.stringify(report)}\n` : formatReport(report));
  return dataLoss.suspected ? EXIT_DATA_LOSS : 0;
}

/**
 * `--watch`: a report every interval until SIGINT / SIGTERM. At a terminal each one replaces the last
 * (screen cleared); otherwise they follow each other under a time line (`--json`: one object per line). A
 * missing stream or group is reported and watched for, not fatal. Exit code 0, or 3 when data loss was seen.
 */
async function watch(
  config: StatusConfig,
  ctx: CliContext,
  redis: Redis,
  keys: StreamKeys,
  json: boolean,
  intervalMs: number,
): Promise<number> {
  let lossSeen = false;
  const clear = ctx.interactive && !json;
  while (!ctx.signal.aborted) {
    if (!json)
      ctx.stdout.write(
        `${clear ? '\x1b[H\x1b[2J' : ''}${new Date().toISOString()}  every ${intervalMs / 1000}s, Ctrl-C to stop\n`,
      );
    try {
      if ((await statusOnce(config, ctx, redis, keys, json)) === EXIT_DATA_LOSS) lossSeen = true;
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
      ctx.stderr.write(`streamsink status: ${error.message}; watching for it\n`);
    }
    if (!json && !clear) ctx.stdout.write('\n');
    await sleep(intervalMs, ctx.signal);
  }
  return lossSeen ? EXIT_DATA_LOSS : 0;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** `--interval S`: seconds between reports, fractions allowed. */
export function parseInterval(text: string | boolean | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (typeof text !== 'string' || !Number.isFinite(n) || n < 0.2 || n > 3600)
    throw new UsageError(`--interval: expected seconds from 0.2 to 3600, got ${JSON.stringify(text)}`);
  return n;
}

/**
 * Read-only: compare the stream with the recorded watermark. Never fails the command: without Postgres (or
 * without migration 3) the rest of the report is still worth having, so it says why it could not check.
 */
async function dataLossReport(
  config: StatusConfig,
  redis: Redis,
  streamKeyList: readonly string[],
  group: string,
  hostname: string,
): Promise<DataLossReport> {
  const pool = createPool(
    { ...config.postgres, poolSize: 1 },
    { applicationName: `streamsink:status:${hostname}`.slice(0, 63), onError: () => {} },
  );
  try {
    // One check per stream key: a partitioned stream's watermarks are recorded per partition key.
    const report: DataLossReport = { checked: true, suspected: false, signs: [], details: [] };
    for (const streamKey of streamKeyList) {
      const { verdict, watermark } = await checkDataLoss({
        redis,
        db: pool,
        streamKey,
        group,
        record: false,
      });
      const prefix = streamKeyList.length > 1 ? `${streamKey}: ` : '';
      report.suspected ||= verdict.suspected;
      for (const sign of verdict.signs) if (!report.signs.includes(sign)) report.signs.push(sign);
      report.details.push(...verdict.details.map((d) => `${prefix}${d}`));
      if (streamKeyList.length === 1) report.committedId = watermark?.committedId ?? null;
    }
    return report;
  } catch (error) {
    const missingTable = (error as { code?: unknown }).code === '42P01';
    const note = missingTable
      ? 'not checked: the database has no watermarks table (run streamsink migrate)'
      : `not checked: cannot read watermarks from ${redactUrl(config.postgres.url)} (${describeError(error, 200)})`;
    return { checked: false, suspected: false, signs: [], details: [], note };
  } finally {
    await pool.end().catch(() => {});
  }
}

/** Pure: the loud lines for stderr. */
export function formatDataLossWarning(streamKey: string, group: string, d: DataLossReport): string {
  const lines = [
    `WARNING: REDIS LOST DATA on stream ${streamKey} (group ${group}): entries streamsink committed are gone`,
    ...d.details.map((line) => `  - ${line}`),
    ...(d.committedId
      ? [`  highest committed entry id: ${d.committedId} (what came after it may be lost)`]
      : []),
    '  Lag and length below describe what Redis holds now, not what was published. See "Redis lost data" in',
    '  docs/operations.md before acting.',
  ];
  return `${lines.join('\n')}\n`;
}

/** Pure: the report from what Redis answered. */
export function buildReport(
  stream: string,
  key: string,
  group: string,
  stats: StreamStats,
  consumers: StatusReport['consumers'],
  nowMs: number,
  dataLoss: DataLossReport = {
    checked: false,
    suspected: false,
    signs: [],
    details: [],
    note: 'not checked',
  },
): StatusReport {
  const oldestId = stats.pendingSummary.count > 0 ? stats.pendingSummary.oldestId : null;
  const oldestMs = oldestId ? entryIdMs(oldestId) : Number.NaN;
  return {
    stream,
    key,
    length: stats.streamLength,
    deadLetter: stats.deadLetterLength,
    group,
    lag: stats.group?.lag ?? null,
    pending: stats.group?.pending ?? 0,
    lastDeliveredId: stats.group?.lastDeliveredId ?? '0-0',
    oldestPendingId: oldestId,
    oldestPendingAgeSeconds: Number.isFinite(oldestMs) ? Math.max(0, nowMs - oldestMs) / 1000 : null,
    consumers: [...consumers].sort((a, b) => b.pending - a.pending || a.name.localeCompare(b.name)),
    dataLoss,
  };
}

/** Pure: the text an operator reads. */
export function formatReport(r: StatusReport): string {
  const lines = [
    `stream        ${r.stream} (${r.key})`,
    `length        ${r.length}`,
    `dead letters  ${r.deadLetter}${r.deadLetter > 0 ? '   (inspect with streamsink dlq)' : ''}`,
    `group         ${r.group}`,
    `lag           ${r.lag ?? 'unknown (entries deleted before delivery)'}`,
    `pending       ${r.pending}`,
    `oldest        ${
      r.oldestPendingId === null
        ? '-'
        : `${r.oldestPendingId} (${r.oldestPendingAgeSeconds === null ? '?' : formatDuration(r.oldestPendingAgeSeconds * 1000)} old)`
    }`,
    `delivered to  ${r.lastDeliveredId}`,
    `consumers     ${r.consumers.length}`,
  ];
  const loss = r.dataLoss;
  lines.unshift(
    `data loss     ${
      loss.suspected
        ? `SUSPECTED: ${loss.signs.join(', ')} (Redis lost committed entries; see the warning on stderr)`
        : loss.checked
          ? 'none seen'
          : (loss.note ?? 'not checked')
    }`,
  );
  if (r.consumers.length > 0) {
    const width = Math.max(8, ...r.consumers.map((c) => c.name.length));
    lines.push(`  ${'NAME'.padEnd(width)}  ${'PENDING'.padStart(8)}  IDLE`);
    for (const c of r.consumers)
      lines.push(`  ${c.name.padEnd(width)}  ${String(c.pending).padStart(8)}  ${formatDuration(c.idleMs)}`);
  }
  return `${lines.join('\n')}\n`;
}

const FLAG_OPTIONS = {
  stream: { type: 'string' },
  group: { type: 'string' },
  json: { type: 'boolean' },
  watch: { type: 'boolean', short: 'w' },
  interval: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
