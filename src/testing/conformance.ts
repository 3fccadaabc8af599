import { AssertionError } from 'node:assert';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AnyPipeline, Transaction } from '../consumers/define-pipeline.ts';
import { createPgSink } from '../consumers/pg-sink.ts';
import { toRuntimePipeline } from '../consumers/pipeline-adapter.ts';
import type { AcceptedItem, Pipeline, StreamEntry } from '../consumers/types.ts';
import { DEFAULT_DECODE_LIMITS, decodeEntry } from '../lib/envelope.ts';
import { migrate } from '../lib/migrations.ts';
import { type PublishInput, prepareEvent } from '../producers/prepare-event.ts';
import { createUuidV7 } from '../producers/uuidv7.ts';
import { judgeUpcasters } from './conformance-upcasters.ts';
import {
  type ConformanceProperty,
  chunk,
  interleave,
  judgeApplies,
  judgeBatchBoundaries,
  judgeIdempotence,
  judgeOverlap,
  judgePoison,
  type PropertyResult,
  type RunOutcome,
} from './conformance-verdicts.ts';

/**
 * The pipeline conformance check (`streamsink/testing`): run it in your own test suite, against a real
 * Postgres, to learn whether your pipeline keeps the promises the worker relies on. It drives your events
 * through the worker's own Postgres sink (the inbox, one transaction per batch, bisection on a bad event), in
 * throwaway schemas it creates, migrates (streamsink's schema, then your pipeline's migrations) and drops.
 */

/** An event as a test writes it: the publish input, with an id (it is the idempotency key). */
export type ConformanceEvent = PublishInput<Record<string, unknown>> & { id: string };

export interface ConformanceOptions {
  /** What `definePipeline` returned. */
  pipeline: AnyPipeline;
  /** A database the helper may create and drop schemas in (`CREATE` on the database). */
  databaseUrl: string;
  /**
   * Good events, in stream order, with distinct ids. Give several per key (several lines of one order, the
   * lifecycle of one payment): order and batch boundaries only matter where events share state.
   */
  events: readonly ConformanceEvent[];
  /**
   * Events the pipeline must refuse: by its schemas or `check`, or by throwing PoisonMessageError (or hitting a
   * Postgres class 22/23 error) in `apply`. Without them the `poison_isolation` property is not checked.
   */
  poison?: ConformanceEvent | readonly ConformanceEvent[];
  /**
   * The pipeline's observable state: e.g. `(await db.query('SELECT ... FROM orders ORDER BY order_id')).rows`.
   * Compared with `isDeepStrictEqual`, so order the rows and leave out what may differ between runs
   * (`now()` timestamps, serial ids).
   */
  snapshot: (db: Transaction) => Promise<unknown>;
  /** Batch sizes compared with one batch of every event. Default `[1, 7]`. */
  batchSizes?: readonly number[];
  /** Keep the schemas for inspection instead of dropping them (their names are in the report). */
  keepSchemas?: boolean;
}

export interface ConformanceReport {
  pipeline: string;
  /** Whether the pipeline declares `idempotent` (no inbox). */
  idempotent: boolean;
  events: number;
  poison: number;
  /** True when every property passed. */
  ok: boolean;
  properties: PropertyResult[];
  /** The schemas the runs used (dropped unless `keepSchemas`). */
  schemas: string[];
  /** The snapshot after all events in one batch. */
  snapshot: unknown;
}

/** Thrown by {@link checkPipelineConformance} for the first failed property; an `AssertionError`. */
export class PipelineConformanceError extends AssertionError {
  readonly property: ConformanceProperty;
  readonly report: ConformanceReport;

  constructor(failed: PropertyResult, report: ConformanceReport) {
    super({
      message: `pipeline ${report.pipeline} fails ${failed.property}: ${failed.detail}`,
      actual: failed.actual,
      expected: failed.expected,
      operator: failed.property,
    });
    this.name = 'PipelineConformanceError';
    this.property = failed.property;
    this.report = report;
  }
}

const STREAM = 'conformance';

/**
 * Check that `pipeline` (a) changes nothing when a batch is written again (whole, or overlapping a committed
 * one), (b) gives the same result however the events are split into batches (1, 7, all), (c) isolates a
 * poison event while its batch-mates commit, and (d) upcasts events given at an older version the same way
 * every time.
 * Resolves to the report when all hold; throws {@link PipelineConformanceError} naming the first failed
 * property otherwise (any test runner shows it as a failed assertion, with a diff of the snapshots).
 *
 * @example
 * import { checkPipelineConformance } from 'streamsink/testing';
 * await checkPipelineConformance({
 *   pipeline,
 *   databaseUrl: process.env.DATABASE_URL,
 *   events: [{ id: 'e1', type: 'order.line_added', key: 'o1', data: { orderId: 'o1', amountMinor: 250 } }, ...],
 *   poison: { id: 'bad', type: 'order.line_added', key: 'o1', data: { orderId: 'o1', amountMinor: -1 } },
 *   snapshot: async (db) => (await db.query('SELECT * FROM orders ORDER BY order_id')).rows,
 * });
 */
export async function checkPipelineConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const { pipeline: definition, snapshot } = options;
  const poisonInput = options.poison === undefined ? [] : [options.poison].flat();
  const newId = createUuidV7();
  const now = Date.now();
  // Prepared once, so every run sees the very same envelopes (a missing ts is filled once, not per run).
  const good = options.events.map((e, i) => prepare(e, `events[${i}]`, newId, now));
  const poison = poisonInput.map((e, i) => prepare(e, `poison[${i}]`, newId, now));
  const allIds = [...good, ...poison].map((p) => p.id);
  const repeated = allIds.find((id, i) => allIds.indexOf(id) !== i);
  if (repeated !== undefined)
    throw new TypeError(`checkPipelineConformance: event id ${repeated} is given twice`);
  if (good.length === 0) throw new TypeError('checkPipelineConformance: give at least one event');

  const pipeline = toRuntimePipeline(definition);
  const base = `streamsink_conformance_${randomBytes(5).toString('hex')}`;
  const schemas: string[] = [];
  const admin = new pg.Client({ connectionString: options.databaseUrl });
  await admin.connect();
  try {
    const inSchema = async <T>(tag: string, work: (db: pg.Pool) => Promise<T>): Promise<T> => {
      const schema = `${base}_${tag}`;
      await admin.query(`CREATE SCHEMA "${schema}"`);
      schemas.push(schema);
      const db = new pg.Pool({ connectionString: withSearchPath(options.databaseUrl, schema), max: 2 });
      db.on('error', () => undefined); // an idle connection dropping is not this check's business
      try {
        await migrate(db, undefined, { pipelines: [definition] });
        return await work(db);
      } finally {
        await db.end();
      }
    };
    const runBatches = (db: pg.Pool, batches: PreparedEvent[][]) => run(db, pipeline, batches, snapshot);
    const eventIds = good.map((p) => p.id);

    const { empty, reference, again } = await inSchema('ref', async (db) => {
      const empty = await snapshot(asTransaction(db));
      const reference = await runBatches(db, [good]);
      const again = await runBatches(db, [good]);
      return { empty, reference, again };
    });
    const properties = [judgeApplies(reference, empty, eventIds)];
    // Boundaries before redelivery: an effect that depends on batching also fails the overlapping redelivery
    // below (a split in two), and "batch_boundaries" is the better diagnosis of it.
    const split: Array<{ size: number; outcome: RunOutcome }> = [];
    for (const size of options.batchSizes ?? [1, 7])
      split.push({ size, outcome: await inSchema(`b${size}`, (db) => runBatches(db, chunk(good, size))) });
    properties.push(judgeBatchBoundaries(reference, split));
    const redelivered = judgeIdempotence(reference, again, pipeline.idempotent === true);
    // A reclaimed batch of which a part was committed (by bisection, or by the batch it raced).
    const committed = Math.floor(good.length / 2);
    const overlap = await inSchema('overlap', (db) => runBatches(db, [good.slice(0, committed), good]));
    properties.push(judgeOverlap(redelivered, reference, overlap, committed));
    if (poison.length > 0) {
      const mixed = await inSchema('poison', (db) => runBatches(db, [interleave(good, poison)]));
      properties.push(
        judgePoison(
          reference,
          mixed,
          poison.map((p) => p.id),
        ),
      );
    }

    const upcasters = judgeUpcasters(pipeline, good);
    if (upcasters) properties.push(upcasters);

    const report: ConformanceReport = {
      pipeline: definition.name,
      idempotent: pipeline.idempotent === true,
      events: good.length,
      poison: poison.length,
      ok: properties.every((p) => p.passed),
      properties,
      schemas,
      snapshot: reference.snapshot,
    };
    const failed = properties.find((p) => !p.passed);
    if (failed) throw new PipelineConformanceError(failed, report);
    return report;
  } finally {
    if (!options.keepSchemas)
      for (const schema of schemas)
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
  }
}

interface PreparedEvent {
  id: string;
  fields: string[];
}

function prepare(input: ConformanceEvent, where: string, newId: () => string, now: number): PreparedEvent {
  const prepared = prepareEvent(input, {
    registry: undefined, // the pipeline's own schemas judge it, as in the worker
    maxPayloadBytes: DEFAULT_DECODE_LIMITS.maxBytes,
    newId,
    now: () => now,
  });
  if (!prepared.ok)
    throw new TypeError(`checkPipelineConformance: ${where} is not a valid event: ${prepared.error.message}`);
  return { id: prepared.envelope.id, fields: prepared.fields };
}

/**
 * Write `batches` one after the other through a fresh sink, as the worker's batch processor would: decode each
 * entry, let the pipeline accept or refuse it, hand the accepted ones to the sink. Then take the snapshot.
 */
async function run(
  db: pg.Pool,
  pipeline: Pipeline,
  batches: readonly PreparedEvent[][],
  snapshot: ConformanceOptions['snapshot'],
): Promise<RunOutcome> {
  const sink = createPgSink({ pool: db, pipeline, stream: STREAM, group: pipeline.name });
  const outcome: RunOutcome = {
    applied: [],
    duplicates: [],
    poison: [],
    failed: [],
    refused: [],
    snapshot: undefined,
  };
  let seq = 0;
  for (const batch of batches) {
    const items: AcceptedItem[] = [];
    for (const event of batch) {
      seq += 1;
      const entry: StreamEntry = { id: `${seq}-0`, fields: event.fields, deliveryCount: 1 };
      const decoded = decodeEntry(entry.fields);
      if (!decoded.ok) throw new Error(`event ${event.id} did not decode: ${decoded.message}`); // prepareEvent checked it
      const accepted = pipeline.accept(decoded.envelope, { entryId: entry.id, stream: STREAM });
      if (!accepted.ok) {
        outcome.refused.push({ id: event.id, reason: accepted.error.reason });
        continue;
      }
      const item: AcceptedItem = { entry, envelope: accepted.envelope };
      if (accepted.envelope.data === decoded.envelope.data) item.dataText = decoded.dataText;
      if (accepted.envelope !== decoded.envelope) item.published = decoded.envelope;
      items.push(item);
    }
    if (items.length === 0) continue;
    // A TransientError (Postgres unreachable, a deadlock) is not a verdict on the pipeline: it propagates.
    const result = await sink.write(items);
    outcome.applied.push(...result.applied.map((i) => i.envelope.id));
    outcome.duplicates.push(...result.duplicates.map((i) => i.envelope.id));
    outcome.poison.push(...result.poison.map((p) => ({ id: p.item.envelope.id, reason: p.error.reason })));
    outcome.failed.push(
      ...result.failed.map((f) => ({
        id: f.item.envelope.id,
        error: f.error instanceof Error ? `${f.error.name}: ${f.error.message}` : String(f.error),
      })),
    );
  }
  outcome.snapshot = await snapshot(asTransaction(db));
  return outcome;
}

function asTransaction(db: pg.Pool): Transaction {
  return db as unknown as Transaction;
}

/** `databaseUrl` with its sessions in `schema` (keeping any other startup options it sets). */
function withSearchPath(databaseUrl: string, schema: string): string {
  const url = new URL(databaseUrl);
  const options = url.searchParams.get('options');
  url.searchParams.set('options', `${options ? `${options} ` : ''}-c search_path=${schema}`);
  return url.toString();
}
