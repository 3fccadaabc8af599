import { parseArgs } from 'node:util';
import {
  countDeadLetters,
  type DlqEntry,
  type DlqSelector,
  type DlqTarget,
  dlqList,
  dlqShow,
  dlqStats,
} from '../admin/dlq.ts';
import { dlqPurge, dlqRedrive } from '../admin/dlq-redrive.ts';
import { parseDlqConfig } from '../lib/config.ts';
import { StreamNotFoundError, UsageError } from '../lib/errors.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { oneShotRedis } from './connections.ts';
import { type CliContext, parseWithFlags } from './context.ts';
import {
  formatDryRun,
  formatListCut,
  formatListTable,
  formatMissing,
  formatPurge,
  formatRedrive,
  formatShow,
  formatStats,
  progressBar,
  showJson,
} from './dlq-format.ts';
import { suggest } from './suggest.ts';

const COMMON = `  --stream S        logical stream name (or STREAMSINK_STREAM; default events)
  --json            machine-readable output
  -h, --help        this text`;

const SELECTORS = `  --all             every entry
  --ids ID,...      these dead-letter entry ids (as printed by \`dlq list\`)
  --reason R        entries dead-lettered for reason R (may be combined with --type)
  --type T          entries of event type T`;

const HELP: Record<string, string> = {
  '': `Usage: streamsink dlq <stats|list|show|redrive|purge> [--stream S] [options]

Inspect a stream's dead-letter stream, put events back after fixing the cause, or delete them.
  stats     count by reason and by event type, oldest and newest
  list      one line per entry, newest last
  show ID   one entry whole, payload pretty-printed
  redrive   put events back onto the stream with their original ids (the worker's inbox dedupes them)
  purge     delete entries for good (needs --yes)

On a partitioned stream (streamsink stream create) every partition's dead-letter stream is read; entry ids
are printed as <partition>/<id>, which show, --ids, redrive and purge take back (a bare id is looked for in
every partition), and redrive puts each event back on its own partition.

Run \`streamsink dlq <subcommand> --help\` for its options. Reason codes: docs/wire-format.md#reason-codes.
Configuration: REDIS_URL (or REDIS_URL_FILE), STREAMSINK_KEY_PREFIX. Exit code 2 for bad usage, 1 when
Redis cannot be reached or refuses the credentials (one line naming the server, secrets masked; no retries).
`,
  stats: `Usage: streamsink dlq stats [--stream S] [--json]

Count dead letters by reason and by event type, with the oldest and newest entry.
${COMMON}
`,
  list: `Usage: streamsink dlq list [--stream S] [--reason R] [--type T] [--since TIME] [--limit N] [--json]

One line per entry, newest last: id, dead-lettered at, reason, type, event id, deliveries, error.
  --reason R        only this reason code
  --type T          only this event type
  --since TIME      only entries dead-lettered since TIME: ISO-8601, or an age such as 30m, 2h, 7d
  --limit N         the newest N matching entries (default 100); says "showing N of M" when it cuts
${COMMON}
`,
  show: `Usage: streamsink dlq show ID [--stream S] [--json]

Print one dead-letter entry whole: its context (reason, error, source entry, deliveries, times, pipeline)
and the original event's fields, the payload pretty-printed. Exit code 1 when there is no such entry.
${COMMON}
`,
  redrive: `Usage: streamsink dlq redrive [--stream S] (--all | --ids ID,... | --reason R | --type T) [--dry-run] [--limit N]

Put dead-lettered events back onto their stream, oldest first, with their original fields (so their original
event ids: the worker's inbox applies each event at most once). Each entry leaves the dead-letter stream only
once its re-publish succeeded, in one atomic step: safe to interrupt and run again. Fix the cause first
(e.g. restart the workers with the currency allowed), or the events come straight back.
${SELECTORS}
  --dry-run         list what would be redriven (--json: ids and entries), change nothing
  --limit N         redrive at most N entries
${COMMON}
Prints how many were redriven, skipped (gone meanwhile) and failed; progress on stderr at a terminal.
A warning on stderr names --ids that are not in the dead-letter stream (\`missing\` in --json).
Exit code 1 when any failed or the run was interrupted.
`,
  purge: `Usage: streamsink dlq purge [--stream S] (--all | --ids ID,... | --reason R | --type T) (--yes | --dry-run)

Delete dead letters for good: the events are not re-published. Refuses to run without --yes.
${SELECTORS}
  --dry-run         list what would be deleted (--json: ids and entries), change nothing
  --yes             really delete
${COMMON}
`,
};

interface Flags {
  stream?: string;
  json: boolean;
  help: boolean;
  all: boolean;
  ids?: string;
  reason?: string;
  type?: string;
  since?: string;
  limit?: string;
  dryRun: boolean;
  yes: boolean;
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const [sub = '', ...rest] = args;
  if (sub === '' || sub === '--help' || sub === '-h' || sub === 'help') {
    ctx.stdout.write(HELP['']);
    return sub === '' ? 2 : 0;
  }
  const help = HELP[sub];
  if (help === undefined) {
    const near = suggest(
      sub,
      Object.keys(HELP).filter((k) => k !== ''),
    );
    const hint = near === undefined ? '' : `; did you mean \`streamsink dlq ${near}\`?`;
    throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}${hint}\n\n${HELP['']}`);
  }
  const { flags, positionals } = parseFlags(rest, help);
  if (flags.help) {
    ctx.stdout.write(help);
    return 0;
  }
  if (sub !== 'show' && positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}\n\n${help}`);
  // Check everything that needs no server before connecting: a refused purge must touch nothing.
  const selector = sub === 'redrive' || sub === 'purge' ? parseSelector(flags, help) : undefined;
  if (sub === 'purge' && !flags.yes && !flags.dryRun)
    throw new UsageError(
      'refusing to purge without --yes: it deletes dead letters for good. Preview with --dry-run, ' +
        'or redrive them instead.',
    );
  const limit = parseLimit(flags.limit);
  const since = flags.since === undefined ? undefined : parseSince(flags.since, Date.now());
  const id = sub === 'show' ? requireId(positionals, help) : undefined;

  const config = parseWithFlags(
    (env) => parseDlqConfig(env, { readFile: ctx.readFile, hostname: ctx.hostname }),
    ctx.env,
    { stream: flags.stream },
    { stream: 'STREAMSINK_STREAM' },
  );
  // A one-shot command fails at once, with one line, when Redis is down or refuses it (src/cli/connections.ts).
  const { redis, explain } = oneShotRedis(config.redis, `streamsink:dlq:${ctx.hostname}`);
  const target: DlqTarget = { redis, stream: config.stream, keyPrefix: config.redis.keyPrefix };
  const out = (value: unknown, text: string) =>
    ctx.stdout.write(flags.json ? `${JSON.stringify(value)}\n` : text);
  try {
    switch (sub) {
      case 'stats': {
        const stats = await dlqStats(target);
        out(stats, formatStats(stats));
        return 0;
      }
      case 'list': {
        const entries = await dlqList(target, {
          ...(flags.reason === undefined ? {} : { reason: flags.reason }),
          ...(flags.type === undefined ? {} : { type: flags.type }),
          ...(since === undefined ? {} : { since }),
          ...(limit === undefined ? {} : { limit }),
        });
        out(entries, formatListTable(entries));
        // Cut at the limit: say how much more there is (the count scans the stream only when filtered).
        if (!flags.json && entries.length === (limit ?? 100)) {
          const total = await countDeadLetters(target, {
            ...(flags.reason === undefined ? {} : { reason: flags.reason }),
            ...(flags.type === undefined ? {} : { type: flags.type }),
            ...(since === undefined ? {} : { since }),
          });
          ctx.stderr.write(formatListCut(entries.length, total));
        }
        return 0;
      }
      case 'show': {
        const entry = await dlqShow(target, id as string);
        if (!entry) {
          ctx.stderr.write(`streamsink dlq show: no dead-letter entry ${id} in stream ${target.stream}\n`);
          return 1;
        }
        out(showJson(entry), formatShow(entry));
        return 0;
      }
      case 'redrive': {
        const bar = ctx.interactive && !flags.dryRun;
        const result = await dlqRedrive(target, selector as DlqSelector, {
          dryRun: flags.dryRun,
          ...(limit === undefined ? {} : { limit }),
          signal: ctx.signal,
          ...(bar ? { onProgress: (p) => ctx.stderr.write(`\r${progressBar(p)}`) } : {}),
        });
        if (bar) ctx.stderr.write('\n');
        ctx.stderr.write(formatMissing('redrive', result.missing));
        if (result.dryRun) {
          const entries = await previewEntries(target, result.ids ?? []);
          out(
            { ...result, entries: entries.map(previewJson) },
            formatDryRun('redrive', result.selected, entries),
          );
          return 0;
        }
        const interrupted =
          ctx.signal.aborted && result.redriven + result.skipped + result.failed < result.selected;
        const { republished: _ids, ...summary } = result;
        out({ ...summary, interrupted }, formatRedrive(result, interrupted));
        return result.failed > 0 || interrupted ? 1 : 0;
      }
      default: {
        const result = await dlqPurge(target, selector as DlqSelector, { dryRun: flags.dryRun });
        ctx.stderr.write(formatMissing('purge', result.missing));
        if (result.dryRun) {
          const entries = await previewEntries(target, result.ids ?? []);
          out(
            { ...result, entries: entries.map(previewJson) },
            formatDryRun('delete', result.selected, entries),
          );
          return 0;
        }
        out(result, formatPurge(result));
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof StreamNotFoundError) {
      ctx.stderr.write(
        `streamsink dlq ${sub}: ${error.message}, and it has no dead-letter stream either. ` +
          `Check --stream and STREAMSINK_KEY_PREFIX (now ${JSON.stringify(config.redis.keyPrefix)}).\n`,
      );
      return 1;
    }
    throw explain(error);
  } finally {
    disconnectRedis(redis);
  }
}

/** Entries a dry run would touch, read for the listing: the first PREVIEW_MAX (all ids are in `ids`). */
const PREVIEW_MAX = 1000;
async function previewEntries(target: DlqTarget, ids: readonly string[]): Promise<DlqEntry[]> {
  const entries: DlqEntry[] = [];
  for (const id of ids.slice(0, PREVIEW_MAX)) {
    const entry = await dlqShow(target, id);
    if (entry) entries.push(entry);
  }
  return entries;
}

function previewJson(e: DlqEntry) {
  return {
    id: e.id,
    deadLetteredAt: e.meta.deadLetteredAt,
    reason: e.meta.reason,
    type: e.meta.eventType,
    eventId: e.meta.eventId,
    deliveries: e.meta.deliveryCount,
  };
}

function parseFlags(args: string[], help: string): { flags: Flags; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        stream: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        all: { type: 'boolean', default: false },
        ids: { type: 'string' },
        reason: { type: 'string' },
        type: { type: 'string' },
        since: { type: 'string' },
        limit: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        yes: { type: 'boolean', default: false },
      },
    });
    const { 'dry-run': dryRun, ...rest } = values;
    return { flags: { ...rest, dryRun } as Flags, positionals };
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${help}`);
  }
}

/** Exactly one of --all, --ids, or --reason/--type. */
export function parseSelector(flags: Flags, help: string): DlqSelector {
  const filter = flags.reason !== undefined || flags.type !== undefined;
  const chosen = [flags.all, flags.ids !== undefined, filter].filter(Boolean).length;
  if (chosen !== 1)
    throw new UsageError(
      `choose the entries with exactly one of --all, --ids, or --reason/--type\n\n${help}`,
    );
  if (flags.all) return { all: true };
  if (flags.ids !== undefined) {
    const ids = flags.ids
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (ids.length === 0) throw new UsageError('--ids: expected a comma-separated list of entry ids');
    return { ids };
  }
  return {
    ...(flags.reason === undefined ? {} : { reason: flags.reason }),
    ...(flags.type === undefined ? {} : { type: flags.type }),
  };
}

function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--limit: expected a positive integer, got ${text}`);
  return n;
}

/** `--since`: an ISO-8601 time, or an age (`90s`, `30m`, `2h`, `7d`) before `now`. */
export function parseSince(text: string, now: number): Date {
  const age = /^(\d+)(s|m|h|d)$/.exec(text);
  if (age) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(now - Number(age[1]) * unit);
  }
  const at = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(at))
    throw new UsageError(`--since: expected an ISO-8601 time or an age such as 30m, 2h, 7d; got ${text}`);
  return new Date(at);
}

function requireId(positionals: string[], help: string): string {
  if (positionals.length !== 1) throw new UsageError(`show takes exactly one entry id\n\n${help}`);
  return positionals[0] as string;
}
