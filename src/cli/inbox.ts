import { type PruneResult, pruneInbox } from '../admin/inbox-prune.ts';
import { parseInboxPruneConfig } from '../lib/config.ts';
import { DURATION_FORMAT, formatDuration, parseDuration } from '../lib/duration.ts';
import { SchemaBehindError, UsageError } from '../lib/errors.ts';
import { currentSchemaVersion } from '../lib/migrations.ts';
import { createPool } from '../lib/pg.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { streamKeys } from '../lib/redis/keys.ts';
import { explainPostgres, oneShotRedis } from './connections.ts';
import { type CliContext, flagsToEnv, parseFlags } from './context.ts';

const HELP_ROOT = `Usage: streamsink inbox prune --stream S [--older-than 7d] [--dry-run] [--json]

Inbox maintenance.
  prune     delete inbox rows whose events can no longer arrive again

Run \`streamsink inbox prune --help\` for its options.
`;

const HELP_PRUNE = `Usage: streamsink inbox prune --stream S [--older-than 7d] [--dry-run] [--json]

Delete the inbox rows (streamsink_inbox) of a stream's events that can no longer be delivered again, in
batches of 1000. A row goes only when all of these hold (docs/postgres.md#inbox-retention):
  - it was recorded longer ago than --older-than, which must be at least STREAMSINK_DEDUPE_WINDOW_MS
    (a producer retries an event within its dedupe window, never after);
  - its stream entry is gone from the stream (trimmed: \`streamsink stream trim\`);
  - no entry still in the stream carries its event id (a lagging group or a replay could deliver it);
  - the dead-letter stream holds no entry with its event id (a redrive would deliver it).
A stream without consumer groups is left alone. A pipeline that also recorded events from another stream is
skipped (reported): its dedupe spans both. After pruning, an event republished later than --older-than is
applied again: size it to your producers' longest retry horizon.
  --stream S        logical stream name (or STREAMSINK_STREAM)
  --older-than D    keep rows younger than D (default 7d; 36h, 7d, 30d)
  --dry-run         count what would be deleted, change nothing
  --json            machine-readable output
  -h, --help        this text

Exit code 1 when the stream does not exist or Redis/Postgres cannot be reached; 2 for bad usage.
Configuration: REDIS_URL, DATABASE_URL (or their *_FILE), STREAMSINK_KEY_PREFIX, STREAMSINK_DEDUPE_WINDOW_MS.
Schedule it (a Kubernetes CronJob: k8s/retention/inbox-prune-cronjob.yaml), after \`stream trim\`.
`;

const OPTIONS = {
  stream: { type: 'string' },
  'older-than': { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const INBOX_SCHEMA_VERSION = 2;

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const [sub = '', ...rest] = args;
  if (sub === '' || sub === '--help' || sub === '-h' || sub === 'help') {
    ctx.stdout.write(HELP_ROOT);
    return sub === '' ? 2 : 0;
  }
  if (sub !== 'prune') throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}\n\n${HELP_ROOT}`);
  const flags = parseFlags(rest, OPTIONS, HELP_PRUNE);
  if (flags.help === true) {
    ctx.stdout.write(HELP_PRUNE);
    return 0;
  }
  if (flags.stream === undefined && !ctx.env.STREAMSINK_STREAM)
    throw new UsageError('--stream is required (or set STREAMSINK_STREAM)');
  const olderText = typeof flags['older-than'] === 'string' ? flags['older-than'] : '7d';
  const olderThanMs = parseDuration(olderText);
  if (olderThanMs === undefined)
    throw new UsageError(`--older-than: expected ${DURATION_FORMAT}; got ${olderText}`);
  const config = parseInboxPruneConfig(
    flagsToEnv(ctx.env, { stream: flags.stream }, { stream: 'STREAMSINK_STREAM' }),
    { readFile: ctx.readFile, hostname: ctx.hostname },
  );
  if (olderThanMs < config.dedupeWindowMs)
    throw new UsageError(
      `--older-than ${olderText} is shorter than the dedupe window (STREAMSINK_DEDUPE_WINDOW_MS = ` +
        `${config.dedupeWindowMs}, ${formatDuration(config.dedupeWindowMs)}): a producer retry inside the ` +
        'window could find its row gone and be applied twice',
    );
  const keys = streamKeys(config.redis.keyPrefix, config.stream);
  const { redis, explain } = oneShotRedis(config.redis, `streamsink:prune:${ctx.hostname}`);
  const pool = createPool(
    { url: config.postgres.url, poolSize: 1 },
    { applicationName: 'streamsink:inbox-prune' },
  );
  try {
    let result: PruneResult;
    try {
      // The inbox as this command knows it (per pipeline, with stream and entry id) exists from version 2.
      const version = await currentSchemaVersion(pool);
      if (version < INBOX_SCHEMA_VERSION) throw new SchemaBehindError(version, INBOX_SCHEMA_VERSION);
      result = await pruneInbox(
        { redis, db: pool, keys },
        { olderThanMs, dryRun: flags['dry-run'] === true, signal: ctx.signal },
      );
    } catch (error) {
      if (error instanceof SchemaBehindError) throw error;
      const pgExplained = explainPostgres(config.postgres, error);
      throw pgExplained === error ? explain(error) : pgExplained;
    }
    ctx.stdout.write(
      flags.json === true ? `${JSON.stringify({ olderThanMs, ...result })}\n` : formatPrune(result),
    );
    if (result.status === 'no_stream') {
      ctx.stderr.write(
        `streamsink inbox prune: no stream ${keys.stream}, nothing pruned. Check --stream and ` +
          `STREAMSINK_KEY_PREFIX (now ${JSON.stringify(config.redis.keyPrefix)}).\n`,
      );
      return 1;
    }
    return 0;
  } finally {
    disconnectRedis(redis);
    await pool.end().catch(() => undefined);
  }
}

export function formatPrune(r: PruneResult): string {
  if (r.status === 'no_stream') return `stream ${r.stream}: does not exist, nothing pruned\n`;
  if (r.status === 'no_groups') return `stream ${r.stream}: no consumer groups, nothing pruned\n`;
  const lines = [
    `stream ${r.stream}: ${r.dryRun ? 'would prune' : 'pruned'} ${r.pruned} of ${r.examined} old inbox rows; ` +
      `kept ${r.kept.entry_in_stream} whose entry is still in the stream, ${r.kept.id_in_stream} whose ` +
      `event id is, ${r.kept.dead_lettered} dead-lettered`,
  ];
  for (const s of r.skippedPipelines)
    lines.push(`  skipped pipeline ${s.pipeline}: it also recorded events from stream ${s.otherStream}`);
  return `${lines.join('\n')}\n`;
}
