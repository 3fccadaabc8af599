import pg from 'pg';
import { ConnectionError, UsageError } from '../lib/errors.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { streamKeys } from '../lib/redis/keys.ts';
import { REPLAY_CLASSES, type ReplayTally, replayFailed } from '../replay/classify.ts';
import { runReplay } from '../replay/run-replay.ts';
import { createShadow, diffTables, quoteSchema, type TableDiff } from '../replay/shadow.ts';
import { explainPostgres, oneShotRedis } from './connections.ts';
import { type CliContext, flagsToEnv, parseFlags } from './context.ts';
import { loadCommandPipeline, parseReplayCommandConfig } from './replay-config.ts';

const HELP = `Usage: streamsink replay --pipeline P --stream S [--from ID] [--to ID] [--into-schema NAME] [--json]

Re-run a pipeline over a stream's entries and compare with the proofs its workers recorded (docs/proof.md).
Reads with XRANGE, a page at a time: never touches consumer groups or pending entries, and holds one page
plus the counts and the first examples of each class in memory. Per entry:

  OK                the entry is what was applied; decide gives the recorded effects (same proof)
  INPUT_MISMATCH    what was applied from this entry is not what the stream holds now        (fails)
  NONDETERMINISTIC  same pipeline version, other effects (or the event is refused now)        (fails)
  VERSION_DRIFT     applied by another version: effects not compared (expected after a deploy)
  MISSING           never applied by this pipeline (not read yet, or dead-lettered)
  DUPLICATE         its event id was applied from another entry with the same content (a producer retry)
  ID_CONFLICT       its event id was applied from another entry with other content
  UNPROVEN          applied before proofs were recorded (an older worker or schema)

An SQL \`apply\` pipeline's proof covers its input only: replay then checks inputs and versions.

Options:
  --pipeline P        a built-in pipeline, a file or a package (or STREAMSINK_PIPELINE)
  --stream S          logical stream name (or STREAMSINK_STREAM)
  --from ID, --to ID  entry id range, inclusive (default: the whole stream)
  --into-schema NAME  also rebuild the pipeline's tables in a new schema NAME from the applied events (its
                      migrations run there), then diff them with the live tables both ways: rows missing,
                      extra or different (decide pipelines only; NAME must not exist; it is kept)
  --examples N        examples kept per class (default 5)
  --page N            entries per XRANGE page (default 500)
  --json              one JSON object instead of text
  -h, --help          this text

Exit code: 0, 1 on INPUT_MISMATCH or NONDETERMINISTIC or a shadow diff (or a connection failure), 2 for
bad usage or configuration. Progress goes to stderr on a terminal.
Configuration: REDIS_URL, DATABASE_URL, STREAMSINK_KEY_PREFIX (and the pipeline's own settings).
`;

const ENTRY_ID = /^(\d+)(-\d+)?$/;

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 100_000)
    throw new UsageError(`--${name}: expected an integer from 1 to 100000, got ${JSON.stringify(value)}`);
  return n;
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(
    args,
    {
      pipeline: { type: 'string' },
      stream: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'into-schema': { type: 'string' },
      examples: { type: 'string' },
      page: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  if (flags.help === true) {
    ctx.stdout.write(HELP);
    return 0;
  }
  for (const f of ['from', 'to'] as const) {
    const v = flags[f];
    if (typeof v === 'string' && !ENTRY_ID.test(v))
      throw new UsageError(
        `--${f}: expected a stream entry id such as 1700000000000-0, got ${JSON.stringify(v)}`,
      );
  }
  const maxExamples = positiveInt(flags.examples as string | undefined, 'examples', 5);
  const pageSize = positiveInt(flags.page as string | undefined, 'page', 500);
  const shadowSchema = flags['into-schema'] as string | undefined;
  if (shadowSchema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(shadowSchema))
    throw new UsageError(
      `--into-schema: expected a lower-case schema name, got ${JSON.stringify(shadowSchema)}`,
    );
  const env = flagsToEnv(
    ctx.env,
    { pipeline: flags.pipeline, stream: flags.stream },
    { pipeline: 'STREAMSINK_PIPELINE', stream: 'STREAMSINK_STREAM' },
  );
  const config = parseReplayCommandConfig(env, ctx, true);
  const pipeline = await loadCommandPipeline(config, ctx);
  if (shadowSchema !== undefined && !pipeline.decide)
    throw new UsageError(`--into-schema needs a decide pipeline: ${pipeline.name} applies SQL of its own`);

  const { redis, explain } = oneShotRedis(config.redis, `streamsink:replay:${ctx.hostname}`);
  const db = new pg.Client({ connectionString: config.postgresUrl, application_name: 'streamsink:replay' });
  const shadowDb =
    shadowSchema === undefined
      ? undefined
      : new pg.Client({ connectionString: config.postgresUrl, application_name: 'streamsink:replay-shadow' });
  const progress = ctx.interactive && !flags.json;
  try {
    try {
      await db.connect();
      await shadowDb?.connect();
    } catch (error) {
      const explained = explainPostgres({ url: config.postgresUrl }, error);
      if (explained instanceof ConnectionError) throw explained;
      throw error;
    }
    const live = (await db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s as string;
    if (shadowDb && shadowSchema) {
      // The shadow session sees the shadow schema only: the migrations and the upserts land there.
      await shadowDb.query(`SET search_path TO ${quoteSchema(shadowSchema)}`);
      await createShadow(shadowDb, shadowSchema, pipeline);
    }
    let tally: ReplayTally;
    try {
      tally = await runReplay({
        redis: redis as never,
        db,
        pipeline,
        stream: config.stream,
        key: streamKeys(config.redis.keyPrefix, config.stream).stream,
        ...(flags.from ? { from: flags.from as string } : {}),
        ...(flags.to ? { to: flags.to as string } : {}),
        pageSize,
        maxExamples,
        signal: ctx.signal,
        ...(shadowDb && shadowSchema ? { shadow: { db: shadowDb, schema: shadowSchema } } : {}),
        ...(progress
          ? {
              onPage: (t: ReplayTally, lastId: string) =>
                ctx.stderr.write(`\rreplayed ${t.entries} entries, up to ${lastId}; ${summary(t)}   `),
            }
          : {}),
      });
    } catch (error) {
      throw explain(error);
    }
    if (progress) ctx.stderr.write('\n');
    const diffs =
      shadowSchema && pipeline.tables
        ? await diffTables(db, live, shadowSchema, pipeline.tables, maxExamples)
        : undefined;
    const diffFailed = diffs?.some((d) => d.missing + d.extra + d.different > 0) ?? false;
    const failed = replayFailed(tally) || diffFailed;
    if (flags.json)
      ctx.stdout.write(
        `${JSON.stringify({
          pipeline: pipeline.name,
          version: pipeline.version,
          stream: config.stream,
          entries: tally.entries,
          counts: tally.counts,
          examples: tally.examples,
          ...(diffs ? { shadow: { schema: shadowSchema, live, tables: diffs } } : {}),
          failed,
        })}\n`,
      );
    else ctx.stdout.write(formatReport(pipeline, config.stream, tally, diffs, shadowSchema, live));
    return failed ? 1 : 0;
  } finally {
    disconnectRedis(redis);
    await db.end().catch(() => {});
    await shadowDb?.end().catch(() => {});
  }
}

function summary(t: ReplayTally): string {
  return REPLAY_CLASSES.filter((c) => t.counts[c] > 0)
    .map((c) => `${c} ${t.counts[c]}`)
    .join(', ');
}

function formatReport(
  pipeline: { name: string; version: string },
  stream: string,
  t: ReplayTally,
  diffs: TableDiff[] | undefined,
  shadow: string | undefined,
  live: string,
): string {
  const lines = [`replay of ${stream} through ${pipeline.name}@${pipeline.version}: ${t.entries} entries`];
  for (const c of REPLAY_CLASSES) {
    if (t.counts[c] === 0) continue;
    lines.push(`  ${c.padEnd(16)} ${t.counts[c]}`);
    if (c === 'OK') continue;
    for (const e of t.examples[c])
      lines.push(`      ${e.entryId}${e.eventId ? ` ${e.eventId}` : ''}${e.detail ? `: ${e.detail}` : ''}`);
  }
  if (diffs) {
    lines.push(`shadow schema ${shadow} against live schema ${live}:`);
    for (const d of diffs) {
      lines.push(`  ${d.table}: ${d.missing} missing, ${d.extra} extra, ${d.different} different`);
      for (const e of d.examples)
        lines.push(`      ${e.kind}: live ${JSON.stringify(e.live)} shadow ${JSON.stringify(e.shadow)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
