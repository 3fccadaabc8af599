import pg from 'pg';
import { canonicalEffects, inputCanonical, pipelineLabel, sha256Hex } from '../consumers/decide/proof.ts';
import type { DecideFunction } from '../consumers/decide/prove.ts';
import { runDecide } from '../consumers/decide/prove.ts';
import type { AnyPipeline } from '../consumers/define-pipeline.ts';
import { toRuntimePipeline } from '../consumers/pipeline-adapter.ts';
import { canonicalJson } from '../lib/canonical-json.ts';
import { decodeEntry } from '../lib/envelope.ts';
import { ConnectionError, UsageError } from '../lib/errors.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { streamKeys } from '../lib/redis/keys.ts';
import { explainPostgres, oneShotRedis } from './connections.ts';
import { type CliContext, flagsToEnv, parseFlags } from './context.ts';
import { loadCommandPipeline, parseReplayCommandConfig } from './replay-config.ts';

const HELP = `Usage: streamsink proof --stream S --event-id X [--pipeline P] [--json]

Print the proof recorded for an applied event with its parts (docs/proof.md says how to recompute it):
the pipeline and version that applied it, its input hash and its proof, as the inbox holds them. When the
stream entry is still in Redis, also the canonical input text and, with --pipeline for a decide pipeline,
the canonical effects decide gives now and the proof recomputed from them, with whether each matches.

Options:
  --stream S     logical stream name (or STREAMSINK_STREAM)
  --event-id X   the event id
  --pipeline P   only this pipeline's record (a built-in, a file or a package); also recompute the effects
  --json         one JSON object instead of text
  -h, --help     this text

Exit code: 0, 1 when no pipeline recorded the event (or a connection failure), 2 for bad usage.
Configuration: REDIS_URL, DATABASE_URL, STREAMSINK_KEY_PREFIX.
`;

interface Row {
  pipeline: string;
  pipeline_version: string | null;
  stream: string;
  entry_id: string;
  event_type: string;
  processed_at: Date;
  content_hash: string | null;
  input_hash: string | null;
  proof: string | null;
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(
    args,
    {
      stream: { type: 'string' },
      'event-id': { type: 'string' },
      pipeline: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  if (flags.help === true) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const eventId = flags['event-id'];
  if (typeof eventId !== 'string' || eventId === '')
    throw new UsageError(`--event-id is required\n\n${HELP}`);
  const env = flagsToEnv(
    ctx.env,
    { pipeline: flags.pipeline, stream: flags.stream },
    { pipeline: 'STREAMSINK_PIPELINE', stream: 'STREAMSINK_STREAM' },
  );
  const config = parseReplayCommandConfig(env, ctx, flags.pipeline !== undefined);
  const pipeline = config.pipelineSpec ? await loadCommandPipeline(config, ctx) : undefined;
  const db = new pg.Client({ connectionString: config.postgresUrl, application_name: 'streamsink:proof' });
  const { redis, explain } = oneShotRedis(config.redis, `streamsink:proof:${ctx.hostname}`);
  try {
    try {
      await db.connect();
    } catch (error) {
      const explained = explainPostgres({ url: config.postgresUrl }, error);
      throw explained instanceof ConnectionError ? explained : error;
    }
    const { rows } = await db.query<Row>(
      `SELECT pipeline, pipeline_version, stream, entry_id, event_type, processed_at,
         encode(content_hash, 'hex') AS content_hash, encode(input_hash, 'hex') AS input_hash,
         encode(proof, 'hex') AS proof
       FROM streamsink_inbox WHERE event_id = $1 AND stream = $2 AND ($3::text IS NULL OR pipeline = $3)
       ORDER BY pipeline`,
      [eventId, config.stream, pipeline?.name ?? null],
    );
    if (rows.length === 0) {
      ctx.stderr.write(
        `streamsink proof: no pipeline${pipeline ? ` ${pipeline.name}` : ''} recorded event ${eventId} from stream ${config.stream}\n`,
      );
      return 1;
    }
    const reports = [];
    for (const row of rows) {
      let entry: Array<[string, string[]]>;
      try {
        entry = (await redis.xrange(
          streamKeys(config.redis.keyPrefix, config.stream).stream,
          row.entry_id,
          row.entry_id,
        )) as Array<[string, string[]]>;
      } catch (error) {
        throw explain(error);
      }
      reports.push(
        recompute(row, eventId, entry[0]?.[1], pipeline?.name === row.pipeline ? pipeline : undefined),
      );
    }
    ctx.stdout.write(flags.json ? `${JSON.stringify(reports)}\n` : reports.map(format).join('\n'));
    return 0;
  } finally {
    disconnectRedis(redis);
    await db.end().catch(() => {});
  }
}

function recompute(
  row: Row,
  eventId: string,
  fields: string[] | undefined,
  pipeline: AnyPipeline | undefined,
) {
  const report: Record<string, unknown> = {
    eventId,
    pipeline: row.pipeline,
    version: row.pipeline_version,
    label: row.pipeline_version === null ? null : `${row.pipeline}@${row.pipeline_version}`,
    stream: row.stream,
    entryId: row.entry_id,
    type: row.event_type,
    processedAt: row.processed_at.toISOString(),
    inputHash: row.input_hash,
    proof: row.proof,
  };
  if (!fields) {
    report.entry = 'no longer in the stream (trimmed or deleted)';
    return report;
  }
  const decoded = decodeEntry(fields);
  if (!decoded.ok) {
    report.entry = `does not decode now: ${decoded.reason}`;
    return report;
  }
  // The schema's output, as the worker hashed it (a schema with defaults or transforms changes data).
  const accepted = pipeline
    ? toRuntimePipeline(pipeline).accept(decoded.envelope, { entryId: row.entry_id, stream: row.stream })
    : { ok: true as const, envelope: decoded.envelope };
  const envelope = accepted.ok ? accepted.envelope : decoded.envelope;
  const input = inputCanonical(envelope, canonicalJson(envelope.data));
  report.inputCanonical = input;
  report.inputHashNow = sha256Hex(input);
  report.inputMatches = report.inputHashNow === row.input_hash;
  if (pipeline?.decide && pipeline.tables && accepted.ok) {
    try {
      const effects = runDecide(
        { decide: pipeline.decide as DecideFunction, tables: pipeline.tables },
        envelope,
      );
      const proofText = `{"effects":${canonicalEffects(effects)},"input_hash":${JSON.stringify(sha256Hex(input))},"pipeline":${JSON.stringify(pipelineLabel(pipeline))}}`;
      report.effectsCanonical = canonicalEffects(effects);
      report.proofCanonical = proofText;
      report.proofNow = sha256Hex(proofText);
      report.proofMatches = report.proofNow === row.proof;
    } catch (error) {
      report.effectsError = error instanceof Error ? error.message : String(error);
    }
  }
  return report;
}

function format(r: Record<string, unknown>): string {
  const keys = [
    ['event', 'eventId'],
    ['pipeline', 'label'],
    ['stream entry', 'entryId'],
    ['type', 'type'],
    ['processed at', 'processedAt'],
    ['input_hash', 'inputHash'],
    ['proof', 'proof'],
    ['entry', 'entry'],
    ['input (canonical)', 'inputCanonical'],
    ['input_hash now', 'inputHashNow'],
    ['input matches', 'inputMatches'],
    ['effects (canonical)', 'effectsCanonical'],
    ['proof input', 'proofCanonical'],
    ['proof now', 'proofNow'],
    ['proof matches', 'proofMatches'],
    ['effects error', 'effectsError'],
  ] as const;
  return `${keys
    .filter(([, k]) => r[k] !== undefined)
    .map(([label, k]) => `${`${label}:`.padEnd(21)}${r[k] === null ? '(not recorded)' : String(r[k])}`)
    .join('\n')}\n`;
}
