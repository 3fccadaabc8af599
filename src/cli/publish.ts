import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { parsePublishConfig } from '../lib/config.ts';
import {
  ConnectionError,
  describeError,
  PayloadTooLargeError,
  type ReasonCode,
  UsageError,
} from '../lib/errors.ts';
import { checkJsonText } from '../lib/json-text.ts';
import { disconnectRedis } from '../lib/redis/close.ts';
import { maxLenWarning } from '../lib/retention-warnings.ts';
import { contentId } from '../producers/content-id.ts';
import type { PublishInput } from '../producers/prepare-event.ts';
import { createProducer, type Producer, type PublishResult } from '../producers/producer.ts';
import { oneShotRedis } from './connections.ts';
import { type CliContext, parseWithFlags } from './context.ts';
import { countLines, createProgress } from './publish-progress.ts';

export { countLines, formatProgress } from './publish-progress.ts';

const HELP = `Usage: streamsink publish [--stream S] [--file F] [--json] [--batch-size N] [--fresh-ids]

Publish events onto a stream from NDJSON: one event per line,
  {"id"?: "...", "type": "payment.captured", "v"?: 1, "key"?: "...", "ts"?: "<ISO-8601>", "data": {...}}
read from --file or from stdin. Events are validated first (docs/wire-format.md); an invalid or malformed
line is reported with its line number and never stops the others. Publishing is idempotent by id, so
re-running a file is safe: a line without an id gets one derived from its content (type, v, key, data;
not ts), "sha256-<hex>" (docs/wire-format.md#content-ids). Two identical lines are therefore one event:
give each its own id if they are meant as two. An id published before with other content is refused and
counted under conflicts.

Options:
  --stream S        logical stream name (or STREAMSINK_STREAM; default events)
  --file F          NDJSON file to read; stdin when omitted
  --json            print the summary as JSON
  --batch-size N    events per pipelined batch (default 1000)
  --fresh-ids       give lines without an id a fresh UUIDv7 instead (a re-run publishes them again)
  -h, --help        this text

Prints a summary (published, duplicates, conflicts and rejected lines with reasons) on stdout, progress on
stderr when it is a terminal (lines read, of the file's total with a percentage, and lines per second). Exit
code: 0 when nothing was rejected or in conflict, 1 otherwise, 2 for bad usage or configuration.
Redis down or refusing the credentials stops publishing at once (no reconnect): the summary names the
server (secrets masked) and the line from which publishing is unconfirmed; re-running the file is safe.
Configuration: REDIS_URL (or REDIS_URL_FILE), STREAMSINK_KEY_PREFIX, STREAMSINK_DEDUPE_WINDOW_MS,
STREAMSINK_MAX_PAYLOAD_BYTES, STREAMSINK_MAXLEN (lossy: trims entries no group has read, and says so on
stderr; prefer \`streamsink stream trim\`, docs/retention.md).
`;

/** Batches in flight at once: enough to overlap reading and validation with Redis round trips. */
const MAX_IN_FLIGHT_BATCHES = 4;
/** The text summary lists this many rejected lines; --json lists up to MAX_LISTED_JSON. */
const MAX_LISTED_TEXT = 50;
const MAX_LISTED_JSON = 10_000;

export interface RejectedLine {
  line: number;
  reason: ReasonCode;
  message: string;
}

/** A line whose id was published before with other content: nothing was written for it. */
export interface ConflictLine {
  line: number;
  id: string;
  /** The entry the first publish of the id added. */
  entryId: string;
}

export interface PublishSummary {
  stream: string;
  lines: number;
  published: number;
  duplicates: number;
  /** Lines refused because their id was published before with other content (IdempotencyConflictError). */
  conflicts: number;
  conflicted: ConflictLine[];
  rejectedCount: number;
  rejected: RejectedLine[];
  interrupted: boolean;
  /**
   * Set when Redis failed: publishing stopped, and lines from `unconfirmedFromLine` on may or may not have
   * been written. Re-running the file is safe (lines come back as duplicates), except for lines given fresh ids.
   */
  failure?: { message: string; unconfirmedFromLine: number };
}

export async function run(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args);
  if (flags.help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const config = parseWithFlags(
    (env) => parsePublishConfig(env, { readFile: ctx.readFile, hostname: ctx.hostname }),
    ctx.env,
    { stream: flags.stream },
    { stream: 'STREAMSINK_STREAM' },
  );
  const stream = config.stream;
  if (config.producer.maxLen !== undefined)
    ctx.stderr.write(`streamsink publish: warning: ${maxLenWarning(config.producer.maxLen)}\n`);
  const input: Readable = flags.file === undefined ? ctx.stdin : await openFile(flags.file);
  // A file's line count is the progress total (one quick pass over it; only when progress is shown).
  const totalLines =
    flags.file !== undefined && ctx.interactive
      ? await countLines(flags.file).catch(() => undefined)
      : undefined;

  // A one-shot command fails at once when Redis is down or refuses it (src/cli/connections.ts); re-running
  // the file is safe (idempotent publish, content ids for id-less lines), so failing is the better default.
  const { redis, explain } = oneShotRedis(config.redis, `streamsink:publish:${ctx.hostname}`, {
    commandTimeout: 30_000,
  });
  try {
    const producer = createProducer({ redis, keyPrefix: config.redis.keyPrefix, ...config.producer });
    const summary = await publishLines(
      input,
      producer,
      stream,
      flags.batchSize,
      ctx,
      explain,
      flags.freshIds,
      totalLines,
    );
    ctx.stdout.write(flags.json ? `${JSON.stringify(jsonSummary(summary))}\n` : textSummary(summary));
    const clean = summary.rejectedCount === 0 && summary.conflicts === 0;
    return clean && !summary.interrupted && !summary.failure ? 0 : 1;
  } finally {
    disconnectRedis(redis);
  }
}

async function openFile(path: string): Promise<Readable> {
  try {
    return (await open(path)).createReadStream();
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UsageError(`--file: cannot read ${path} (${why})`);
  }
}

interface Flags {
  stream: string | undefined;
  file: string | undefined;
  json: boolean;
  batchSize: number;
  freshIds: boolean;
  help: boolean;
}

function parseFlags(args: string[]): Flags {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        stream: { type: 'string' },
        file: { type: 'string' },
        json: { type: 'boolean', default: false },
        'batch-size': { type: 'string' },
        'fresh-ids': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${HELP}`);
  }
  const batchText = values['batch-size'];
  const batchSize = batchText === undefined ? 1000 : Number(batchText);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new UsageError(
      `--batch-size: expected an integer from 1 to 100000, got ${JSON.stringify(batchText)}`,
    );
  }
  return {
    stream: values.stream as string | undefined,
    file: values.file as string | undefined,
    json: values.json === true,
    batchSize,
    freshIds: values['fresh-ids'] === true,
    help: values.help === true,
  };
}

/**
 * Read NDJSON lines, publish them in batches with a few batches in flight on one connection (Redis runs
 * them in order, so the stream keeps the file's order), and tally the outcome per line.
 */
export async function publishLines(
  input: Readable,
  producer: Producer,
  stream: string,
  batchSize: number,
  ctx: Pick<CliContext, 'stderr' | 'interactive' | 'signal'>,
  /** Turns a failed publish into what to report (a connection failure becomes one clear sentence). */
  explain: (error: unknown) => unknown = (error) => error,
  /** Leave id-less lines without an id (the producer gives each a fresh UUIDv7) instead of a content id. */
  freshIds = false,
  /** Lines in the input, when known (a file): progress then shows a percentage. */
  totalLines?: number,
): Promise<PublishSummary> {
  const summary: PublishSummary = {
    stream,
    lines: 0,
    published: 0,
    duplicates: 0,
    conflicts: 0,
    conflicted: [],
    rejectedCount: 0,
    rejected: [],
    interrupted: false,
  };
  const reject = (line: number, reason: ReasonCode, message: string) => {
    summary.rejectedCount += 1;
    summary.rejected.push({ line, reason, message });
  };
  const progress = createProgress(ctx, summary, totalLines);
  const inFlight = new Set<Promise<void>>();
  let failed = false;

  const send = (lineNumbers: number[], events: PublishInput<object>[]) => {
    const task = producer.publishBatch(stream, events).then(
      (results) => {
        for (let i = 0; i < results.length; i++)
          tally(results[i] as PublishResult, lineNumbers[i] as number, summary, reject);
        progress.update();
      },
      (error: unknown) => {
        failed = true;
        const from = lineNumbers[0] as number;
        if (!summary.failure || from < summary.failure.unconfirmedFromLine)
          summary.failure = { message: failureText(explain(error)), unconfirmedFromLine: from };
      },
    );
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };

  let lineNumbers: number[] = [];
  let events: PublishInput<object>[] = [];
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  // On SIGTERM / SIGINT stop reading at once (stdin may never send another line), finish what is in flight.
  const onAbort = () => {
    summary.interrupted = true;
    lines.close();
  };
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  for await (const text of lines) {
    if (ctx.signal.aborted || failed) {
      summary.interrupted = ctx.signal.aborted;
      break;
    }
    summary.lines += 1;
    if (text.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      reject(summary.lines, 'invalid_json', `not valid JSON: ${(error as Error).message}`);
      continue;
    }
    // JSON.parse has already resolved a repeated key and rounded long numbers: only the text can tell.
    const textIssue = checkJsonText(text, parsed);
    if (textIssue) {
      reject(summary.lines, textIssue.reason, `${textIssue.path.slice(1) || '(root)'}: ${textIssue.message}`);
      continue;
    }
    lineNumbers.push(summary.lines);
    events.push(freshIds ? (parsed as PublishInput<object>) : withContentId(parsed));
    if (events.length >= batchSize) {
      send(lineNumbers, events);
      lineNumbers = [];
      events = [];
      while (inFlight.size >= MAX_IN_FLIGHT_BATCHES) await Promise.race(inFlight);
    }
  }
  lines.close();
  ctx.signal.removeEventListener('abort', onAbort);
  // Lines already read are sent even when interrupted, so every counted line has an outcome.
  if (events.length > 0 && !failed) send(lineNumbers, events);
  await Promise.all(inFlight);
  progress.done();
  summary.rejected.sort((a, b) => a.line - b.line);
  summary.conflicted.sort((a, b) => a.line - b.line);
  return summary;
}

/**
 * An event object without an `id` member gets its content id (content-id.ts); anything else is left for the
 * producer to validate (a line that is not an object, or whose id is invalid, is rejected there).
 */
function withContentId(parsed: unknown): PublishInput<object> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || 'id' in parsed)
    return parsed as PublishInput<object>;
  const event = parsed as { type: unknown; v?: unknown; key?: unknown; data: unknown };
  return { id: contentId(event), ...(parsed as PublishInput<object>) };
}

function tally(
  result: PublishResult,
  line: number,
  summary: PublishSummary,
  reject: (line: number, reason: ReasonCode, message: string) => void,
): void {
  if (result.status === 'added') summary.published += 1;
  else if (result.status === 'duplicate') summary.duplicates += 1;
  else if (result.status === 'conflict') {
    summary.conflicts += 1;
    summary.conflicted.push({ line, id: result.id, entryId: result.entryId });
  } else if (result.error instanceof PayloadTooLargeError) reject(line, 'oversize', result.error.message);
  else
    reject(
      line,
      result.error.reason,
      result.error.issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; '),
    );
}

function textSummary(s: PublishSummary): string {
  const out = [
    `stream ${s.stream}: published ${s.published}, duplicates ${s.duplicates}, conflicts ${s.conflicts}, ` +
      `rejected ${s.rejectedCount}` +
      ` (${s.lines} line${s.lines === 1 ? '' : 's'}${s.interrupted ? ', interrupted before the end' : ''})`,
  ];
  if (s.failure)
    out.push(
      `  stopped: ${s.failure.message}`,
      `  lines from ${s.failure.unconfirmedFromLine} on may not have been published; re-run the file ` +
        '(lines are deduplicated by id; not id-less lines under --fresh-ids)',
    );
  for (const c of s.conflicted.slice(0, MAX_LISTED_TEXT))
    out.push(
      `  line ${c.line}: conflict: id ${c.id} was published before (entry ${c.entryId}) with other content`,
    );
  if (s.conflicted.length > MAX_LISTED_TEXT)
    out.push(`  ... and ${s.conflicted.length - MAX_LISTED_TEXT} more conflicts (--json lists them)`);
  for (const r of s.rejected.slice(0, MAX_LISTED_TEXT))
    out.push(`  line ${r.line}: ${r.reason}: ${r.message}`);
  if (s.rejected.length > MAX_LISTED_TEXT)
    out.push(`  ... and ${s.rejected.length - MAX_LISTED_TEXT} more (--json lists them)`);
  return `${out.join('\n')}\n`;
}

function jsonSummary(s: PublishSummary): PublishSummary & { truncated: boolean } {
  return {
    ...s,
    rejected: s.rejected.slice(0, MAX_LISTED_JSON),
    conflicted: s.conflicted.slice(0, MAX_LISTED_JSON),
    truncated: s.rejected.length > MAX_LISTED_JSON || s.conflicted.length > MAX_LISTED_JSON,
  };
}

/** A connection failure is already a sentence for an operator; anything else keeps its class name. */
function failureText(error: unknown): string {
  return error instanceof ConnectionError ? error.message : describeError(error);
}
