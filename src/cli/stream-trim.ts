import { type TrimResult, trimStreamKey } from '../admin/stream-trim.ts';
import { parseStreamTrimConfig } from '../lib/config.ts';
import { DURATION_FORMAT, formatAge, formatDuration, parseDuration } from '../lib/duration.ts';
import { UsageError } from '../lib/errors.ts';
import { readStreamLayout } from '../lib/partitions/stream-layout.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { oneShotRedis } from './connections.ts';
import { type CliContext, flagsToEnv, parseFlags } from './context.ts';

const HELP_TRIM = `Usage: streamsink stream trim --stream S [--keep 24h] [--dry-run] [--json]

Remove the entries of a stream that every consumer group has read and acknowledged and that are older than
the replay window. A group's floor is its oldest pending entry, or the entry after its last-delivered one when
nothing is pending; nothing at or above the lowest floor is removed, so no group loses work. A stream without
consumer groups is never trimmed, and a group that never reads keeps everything: delete groups you no longer
use (XGROUP DESTROY). One atomic step per call, safe next to running workers and other trims.
  --stream S        logical stream name (or STREAMSINK_STREAM)
  --keep D          replay window: keep entries younger than D even when acknowledged (default 24h;
                    0s, 90m, 24h, 7d); measured by Redis' clock
  --dry-run         count what would be removed, change nothing
  --json            machine-readable output
  -h, --help        this text

On a partitioned stream each partition is trimmed in its own step (one line, or one JSON object, per partition).
Exit code 1 when the stream does not exist; 2 for bad usage. The worker runs the same trim on an interval
when STREAMSINK_TRIM_INTERVAL_MS is set (docs/retention.md).
Configuration: REDIS_URL (or REDIS_URL_FILE), STREAMSINK_KEY_PREFIX.
`;

const OPTIONS = {
  stream: { type: 'string' },
  keep: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `streamsink stream trim ...`: `args` are what follows `trim`. */
export async function runTrim(rest: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(rest, OPTIONS, HELP_TRIM);
  if (flags.help === true) {
    ctx.stdout.write(HELP_TRIM);
    return 0;
  }
  if (flags.stream === undefined && !ctx.env.STREAMSINK_STREAM)
    throw new UsageError('--stream is required (or set STREAMSINK_STREAM)');
  const keepText = typeof flags.keep === 'string' ? flags.keep : '24h';
  const keepMs = parseDuration(keepText);
  if (keepMs === undefined) throw new UsageError(`--keep: expected ${DURATION_FORMAT}; got ${keepText}`);
  const config = parseStreamTrimConfig(
    flagsToEnv(ctx.env, { stream: flags.stream }, { stream: 'STREAMSINK_STREAM' }),
    { readFile: ctx.readFile, hostname: ctx.hostname },
  );
  const { redis, explain } = oneShotRedis(config.redis, `streamsink:trim:${ctx.hostname}`);
  try {
    // A partitioned stream is trimmed partition by partition, each in its own atomic step.
    const layout = await readStreamLayout(redis, config.redis.keyPrefix, config.stream);
    const targets =
      layout.kind === 'single'
        ? [{ label: config.stream, keys: layout.keys }]
        : layout.partitions.map((keys) => ({ label: `${config.stream} partition ${keys.partition}`, keys }));
    let missing = 0;
    for (const { label, keys } of targets) {
      const result = await trimStreamKey(redis, keys.stream, {
        keepMs,
        dryRun: flags['dry-run'] === true,
        signal: ctx.signal,
      });
      const partition = keys.partition === undefined ? {} : { partition: keys.partition };
      ctx.stdout.write(
        flags.json === true
          ? `${JSON.stringify({ stream: config.stream, ...partition, keepMs, ...result })}\n`
          : formatTrim(label, keepMs, result),
      );
      if (result.status === 'no_stream') missing += 1;
    }
    if (missing === targets.length) {
      ctx.stderr.write(
        `streamsink stream trim: no stream ${config.stream}. Check --stream and STREAMSINK_KEY_PREFIX ` +
          `(now ${JSON.stringify(config.redis.keyPrefix)}).\n`,
      );
      return 1;
    }
    return 0;
  } catch (error) {
    throw explain(error);
  } finally {
    disconnectRedis(redis);
  }
}

/** The human summary of a trim. */
export function formatTrim(stream: string, keepMs: number, r: TrimResult): string {
  if (r.status !== 'ok')
    return r.status === 'no_stream'
      ? `stream ${stream}: does not exist, nothing trimmed\n`
      : `stream ${stream}: no consumer groups, nothing trimmed (no group has said what it read)\n`;
  const verb = r.dryRun ? 'would remove' : 'removed';
  const count = r.countCapped ? `at least ${r.removed}` : String(r.removed);
  const lines = [
    `stream ${stream}: ${verb} ${count} entries below ${r.threshold} (keep ${formatDuration(keepMs)})`,
  ];
  for (const g of r.groups) {
    const needs =
      g.neededAgeMs > 0
        ? `still needs entries ${formatAge(g.neededAgeMs)} old`
        : 'has acknowledged everything';
    lines.push(`  group ${g.group}: floor ${g.floor}, ${needs}`);
  }
  if (r.pinnedBy !== undefined)
    lines.push(
      `  trimming stops at group ${r.pinnedBy}'s floor; if that group is no longer used, delete it (XGROUP DESTROY)`,
    );
  return `${lines.join('\n')}\n`;
}
