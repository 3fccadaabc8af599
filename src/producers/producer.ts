import { readFileSync } from 'node:fs';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { contentHash } from '../consumers/content-hash.ts';
import { DATA_TEXT_INDEX, type Envelope } from '../lib/envelope.ts';
import {
  IdempotencyConflictError,
  type PayloadTooLargeError,
  TransientError,
  type ValidationError,
} from '../lib/errors.ts';
import type { EventRegistry } from '../lib/event-registry.ts';
import type { ProducerMetrics } from '../lib/metrics.ts';
import { partitionOf } from '../lib/partitions/partition-of.ts';
import { readStreamLayout, type StreamLayout } from '../lib/partitions/stream-layout.ts';
import type { StreamKeys } from '../lib/redis/keys.ts';
import { checkArguments, EVENT_ARG, EVENTS_ARG, PRODUCER_OPTIONS, STREAM_ARG } from '../lib/sdk-args.ts';
import { type PublishInput, prepareEvent } from './prepare-event.ts';
import { createUuidV7 } from './uuidv7.ts';

export interface ProducerOptions {
  /**
   * An ioredis connection (or cluster). The producer never closes it: the caller owns it, and its options
   * bound how long a publish waits while Redis is unreachable (`maxRetriesPerRequest`, `commandTimeout`;
   * with `maxRetriesPerRequest: null` a publish waits until Redis is back).
   */
  redis: Redis | Cluster;
  /** Prefix of every key (STREAMSINK_KEY_PREFIX); default `streamsink`. */
  keyPrefix?: string;
  /** Event types and their `data` schemas; without one, only the envelope and payload shape are checked. */
  registry?: EventRegistry;
  /** How long a published id is remembered for idempotent publish; default 24 h. */
  dedupeWindowMs?: number;
  /** Largest encoded entry (field names and values, UTF-8 bytes); default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * Approximate trimming (`MAXLEN ~ n`) on every add; off when undefined. Lossy: it removes entries whether or
   * not the consumer groups have read them. Prefer the safe trim (`trimStreamKey`, docs/retention.md).
   */
  maxLen?: number | undefined;
  /** Deduplicate by event id (default). `false` is a plain XADD: a retried publish adds a second entry. */
  idempotent?: boolean;
  /** Optional producer metrics, from `createProducerMetrics(registry)`. */
  metrics?: ProducerMetrics;
  /** Events per Lua call (idempotent) or per pipeline slice, 1-1000; default 200. */
  chunkSize?: number;
  /** Clock for default `ts` and generated ids (tests). */
  now?: () => number;
  /** Id generator for events without one; default UUIDv7. */
  newId?: () => string;
}

export type PublishResult =
  | { status: 'added'; id: string; entryId: string }
  /** The id was published before, within the dedupe window: `entryId` is the entry the first publish added. */
  | { status: 'duplicate'; id: string; entryId: string }
  /**
   * The id was published before, within the dedupe window, with other content: nothing was written, and
   * `entryId` is the entry the first publish added (docs/wire-format.md#content-hash).
   */
  | { status: 'conflict'; id: string; entryId: string; error: IdempotencyConflictError }
  | { status: 'rejected'; id: string | undefined; error: ValidationError | PayloadTooLargeError };

export type Accepted = Extract<PublishResult, { status: 'added' | 'duplicate' }>;

export interface Producer {
  /**
   * Validate and publish one event. Throws {@link ValidationError} (naming every invalid field path) or
   * {@link PayloadTooLargeError} before anything reaches Redis, {@link IdempotencyConflictError} when the id
   * was published before with other content (nothing written), and {@link TransientError} when Redis fails
   * (retrying with the same id is safe when idempotent).
   */
  publish(stream: string, event: PublishInput<object>): Promise<Accepted>;
  /**
   * Validate and publish many events in pipelined chunks. Returns one result per input, in order; invalid
   * events are `rejected`, an id already published with other content is a `conflict`, and the others are
   * still written. Throws {@link TransientError} when Redis fails
   * (some chunks may have been written: with idempotent publish, retrying the whole batch is safe).
   */
  publishBatch(stream: string, events: readonly PublishInput<object>[]): Promise<PublishResult[]>;
}

export const DEFAULT_DEDUPE_WINDOW_MS = 86_400_000;
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
const DEFAULT_CHUNK_SIZE = 200;
/** A Lua call holds Redis for its whole run; keep one call's payload bounded even with large events. */
const CHUNK_BYTES = 2 * 1024 * 1024;
const STREAM_NAME = /^[A-Za-z0-9._:-]{1,200}$/;
/** How long an unpartitioned layout is trusted before the metadata is read again. */
const LAYOUT_RECHECK_MS = 5000;

// V2: each event carries its content hash, kept in the dedupe marker (a new name, so a new SHA: producers of
// both versions can share a Redis during a rollout).
const SCRIPT_NAME = 'streamsinkPublishIdempotentV2';
const SCRIPT = readFileSync(new URL('./publish-idempotent.lua', import.meta.url), 'utf8');

/** The connection once `defineCommand` has added the script (EVALSHA, falling back to EVAL on NOSCRIPT). */
type ScriptClient = Record<typeof SCRIPT_NAME, (...numKeysThenArgs: (string | number)[]) => Promise<unknown>>;

interface CachedLayout {
  layout: Promise<StreamLayout>;
  readAt: number;
  partitioned?: boolean;
}

interface Ready {
  index: number;
  envelope: Envelope<unknown>;
  fields: string[];
  size: number;
}

/**
 * Create a producer over a Redis connection (or ioredis `Cluster`) the caller owns. Idempotent publish runs one
 * Lua script per chunk of events (all keys of one stream share a hash tag, so it works on Redis Cluster); ioredis
 * sends it by SHA and falls back to the full script on NOSCRIPT. On a partitioned stream (`streamsink stream
 * create --partitions P`) each event goes to partition `partitionOf(event.key, P)` (docs/wire-format.md#partitions),
 * one chunk per partition; the stream's layout is read once per stream and kept.
 * @throws InvalidArgumentError for an unknown option key, a value of the wrong type or out of range (checked
 *   at run time, for JavaScript callers too), or an extra argument.
 * @example
 * const producer = createProducer({ redis: new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'), registry });
 * await producer.publish('payments', { type: 'payment.captured', data: { amountMinor: 1250, currency: 'EUR' } });
 */
export function createProducer(options: ProducerOptions): Producer {
  // biome-ignore lint/complexity/noArguments: the count of arguments given, which a rest parameter would type
  checkArguments('createProducer', [PRODUCER_OPTIONS], arguments);
  const keyPrefix = options.keyPrefix ?? 'streamsink';
  const dedupeWindowMs = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const maxLen = options.maxLen;
  const idempotent = options.idempotent ?? true;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const now = options.now ?? Date.now;
  const newId = options.newId ?? createUuidV7({ now, random: defaultRandom });
  const { redis, metrics, registry } = options;
  if (idempotent) redis.defineCommand(SCRIPT_NAME, { lua: SCRIPT });

  // Where each stream's entries go (one key, or P partitions), read once per stream. A partitioned stream
  // stays so (P is fixed at creation); an unpartitioned answer is read again after LAYOUT_RECHECK_MS, so a
  // stream created with `stream create --partitions` while this producer runs is picked up.
  const layouts = new Map<string, CachedLayout>();
  const layoutFor = (stream: string): Promise<StreamLayout> => {
    if (!STREAM_NAME.test(stream))
      throw new RangeError(`stream name must be 1-200 characters from A-Z a-z 0-9 . _ : -, got ${stream}`);
    const cached = layouts.get(stream);
    if (cached && (cached.partitioned || now() - cached.readAt < LAYOUT_RECHECK_MS)) return cached.layout;
    const entry: CachedLayout = { layout: readStreamLayout(redis, keyPrefix, stream), readAt: now() };
    layouts.set(stream, entry);
    entry.layout.then(
      (layout) => {
        entry.partitioned = layout.kind === 'partitioned';
      },
      () => {
        if (layouts.get(stream) === entry) layouts.delete(stream); // read again on the next publish
      },
    );
    return entry.layout;
  };

  async function publishBatch(
    stream: string,
    events: readonly PublishInput<object>[],
  ): Promise<PublishResult[]> {
    // biome-ignore lint/complexity/noArguments: the count of arguments given, which a rest parameter would type
    checkArguments('publishBatch', [STREAM_ARG, EVENTS_ARG], arguments);
    return publishChecked(stream, events);
  }

  async function publishChecked(
    stream: string,
    events: readonly PublishInput<object>[],
  ): Promise<PublishResult[]> {
    const layoutPromise = layoutFor(stream);
    const started = performance.now();
    let layout: StreamLayout;
    try {
      layout = await layoutPromise;
    } catch (error) {
      throw asPublishError(error);
    }
    const results: PublishResult[] = new Array(events.length);
    // Each chunk goes out as soon as it is full, so Redis works on one chunk while the next is validated.
    // A partitioned stream has one open chunk per partition: a script's keys must share one hash tag.
    const sends: Promise<void>[] = [];
    const open = new Map<StreamKeys, { chunk: Ready[]; bytes: number }>();
    const touched = new Set<StreamKeys>();
    const flush = (keys: StreamKeys) => {
      const pending = open.get(keys);
      if (!pending || pending.chunk.length === 0) return;
      const { chunk } = pending;
      sends.push(idempotent ? sendScript(keys, chunk, results) : sendPlain(keys, chunk, results));
      touched.add(keys);
      open.delete(keys);
    };
    for (let i = 0; i < events.length; i++) {
      const prepared = prepareEvent(events[i], { registry, maxPayloadBytes, newId, now });
      if (!prepared.ok) {
        results[i] = { status: 'rejected', id: prepared.id, error: prepared.error };
        continue;
      }
      const keys = targetKeys(layout, prepared.envelope.key);
      let pending = open.get(keys);
      if (pending && pending.bytes + prepared.size > CHUNK_BYTES) {
        flush(keys);
        pending = undefined;
      }
      if (!pending) {
        pending = { chunk: [], bytes: 0 };
        open.set(keys, pending);
      }
      pending.chunk.push({ index: i, ...prepared });
      pending.bytes += prepared.size;
      if (pending.chunk.length >= chunkSize) flush(keys);
    }
    for (const keys of [...open.keys()]) flush(keys);
    // After the chunks on the same connection, so a worker woken by it finds the entries.
    for (const keys of touched) sends.push(ringDoorbell(redis, keys));
    const failed = (await Promise.allSettled(sends)).find((s) => s.status === 'rejected');
    if (failed) throw asPublishError(failed.reason);
    if (metrics) record(metrics, stream, results, (performance.now() - started) / 1000);
    return results;
  }

  async function sendScript(keys: StreamKeys, chunk: Ready[], results: PublishResult[]): Promise<void> {
    const args: (string | number)[] = [chunk.length + 1, keys.stream];
    for (const r of chunk) args.push(keys.dedupe(r.envelope.id));
    args.push(dedupeWindowMs, maxLen ?? 0);
    const hashes = chunk.map(publishedHash);
    for (const [i, r] of chunk.entries()) {
      args.push(hashes[i] as string, r.fields.length);
      for (const f of r.fields) args.push(f);
    }
    const reply = (await (redis as unknown as ScriptClient)[SCRIPT_NAME](...args)) as (number | string)[];
    for (let i = 0; i < chunk.length; i++) {
      const r = chunk[i] as Ready;
      const id = r.envelope.id;
      const entryId = String(reply[2 * i + 1]);
      const code = reply[2 * i];
      results[r.index] =
        code === 2
          ? {
              status: 'conflict',
              id,
              entryId,
              error: new IdempotencyConflictError(id, entryId, hashes[i] as string),
            }
          : { status: code === 1 ? 'added' : 'duplicate', id, entryId };
    }
  }

  async function sendPlain(keys: StreamKeys, chunk: Ready[], results: PublishResult[]): Promise<void> {
    const pipeline = redis.pipeline();
    for (const r of chunk) {
      if (maxLen === undefined) pipeline.xadd(keys.stream, '*', ...r.fields);
      else pipeline.xadd(keys.stream, 'MAXLEN', '~', maxLen, '*', ...r.fields);
    }
    const replies = await execPipeline(pipeline);
    for (let i = 0; i < chunk.length; i++) {
      const r = chunk[i] as Ready;
      results[r.index] = { status: 'added', id: r.envelope.id, entryId: String(replies[i]) };
    }
  }

  return {
    // A method, not an arrow: `arguments` counts what the caller passed (the event itself is checked field by
    // field by prepareEvent, which refuses unexpected fields with a ValidationError).
    async publish(stream, event) {
      // biome-ignore lint/complexity/noArguments: the count of arguments given, which a rest parameter would type
      checkArguments('publish', [STREAM_ARG, EVENT_ARG], arguments);
      const [result] = await publishChecked(stream, [event]);
      if (!result) throw new Error('publishBatch returned no result');
      if (result.status === 'rejected' || result.status === 'conflict') throw result.error;
      return result;
    },
    publishBatch,
  };
}

/**
 * Wake one idle worker of the stream (it waits on the doorbell with BLPOP, see read-loop.ts): the list holds at
 * most one item, so a doorbell nobody answers costs nothing. A producer that does not ring (a raw XADD) is
 * read within STREAMSINK_POLL_MS instead.
 */
export async function ringDoorbell(
  redis: Redis | Cluster,
  keys: Pick<StreamKeys, 'doorbell'>,
): Promise<void> {
  await execPipeline(redis.pipeline().lpush(keys.doorbell, '1').ltrim(keys.doorbell, 0, 0));
}

/**
 * The content hash (content-hash.ts) of the event as it goes on the wire: `data` as the consumer will parse it
 * from the encoded text, not the caller's object (a Date or an object with toJSON serialises to something else
 * than its own keys), so the producer and the worker's inbox hash the same content.
 */
function publishedHash(r: Ready): string {
  const { type, v, key } = r.envelope;
  return contentHash({ type, v, key, data: JSON.parse(r.fields[DATA_TEXT_INDEX] as string) });
}

/** Run a pipeline; the first failed command fails the whole call (ioredis reports errors per command). */
async function execPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = await pipeline.exec();
  if (!replies) throw new TransientError('pipeline was discarded (connection closed?)');
  return replies.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/**
 * Redis replies with an error for a command it refused (WRONGTYPE, OOM, a script error): that is not fixed by
 * retrying blindly, so it passes through as is. Anything else (connection lost, timeout) is transient.
 */
function asPublishError(error: unknown): unknown {
  if (error instanceof Error && error.name === 'ReplyError') return error;
  if (error instanceof TransientError) return error;
  return new TransientError(`publish failed: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}

function record(metrics: ProducerMetrics, stream: string, results: PublishResult[], seconds: number): void {
  let added = 0;
  let duplicate = 0;
  let rejected = 0;
  let conflict = 0;
  for (const r of results) {
    if (r.status === 'added') added++;
    else if (r.status === 'duplicate') duplicate++;
    else if (r.status === 'conflict') conflict++;
    else rejected++;
  }
  if (conflict) metrics.published.inc({ stream, outcome: 'conflict' }, conflict);
  if (added) metrics.published.inc({ stream, outcome: 'added' }, added);
  if (duplicate) metrics.published.inc({ stream, outcome: 'duplicate' }, duplicate);
  if (rejected) metrics.published.inc({ stream, outcome: 'rejected' }, rejected);
  metrics.publishLatency.observe({ stream }, seconds);
}

/** The keys an event goes to: the stream's own, or its partition's (`partitionOf(key, P)`). */
function targetKeys(layout: StreamLayout, key: string): StreamKeys {
  if (layout.kind === 'single') return layout.keys;
  return layout.partitions[partitionOf(key, layout.partitions.length)] as StreamKeys;
}

function defaultRandom(bytes: Uint8Array): void {
  crypto.getRandomValues(bytes);
}
