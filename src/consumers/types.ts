import type { Envelope } from '../lib/envelope.ts';
import type { DeadLetterReason, PoisonMessageError } from '../lib/errors.ts';
import type { EventRegistry } from '../lib/event-registry.ts';
import type { Queryable } from '../lib/pg.ts';
import type { Effect } from './decide/effects.ts';

/**
 * The contracts between the parts of the worker: the read loop hands entries on, pipelines decide what an
 * event means, the sink writes batches to Postgres, the dead-letterer moves poison out of the way.
 */

/** One stream entry as read by XREADGROUP or claimed by XAUTOCLAIM. */
export interface StreamEntry {
  /** Stream entry id, `<ms>-<seq>`. */
  id: string;
  /** Flat field list exactly as Redis returned it: name, value, name, value, ... */
  fields: string[];
  /** Times the group delivered this entry (1 on the first XREADGROUP; claims add one). */
  deliveryCount: number;
  /** Bytes of its field names and values as Redis stores them (what the in-flight byte budget counts). */
  size?: number;
  /** Its stored bytes are not UTF-8 (the fields hold U+FFFD where they were): dead-lettered `invalid_utf8`. */
  invalidUtf8?: boolean;
}

/** An entry whose envelope decoded and which the pipeline accepted. */
export interface AcceptedItem {
  entry: StreamEntry;
  envelope: Envelope;
  /**
   * The entry's `data` field text exactly as read, when `envelope.data` is what it parsed to (set by the batch
   * processor; absent for items built otherwise). Lets a pipeline store the payload without JSON.stringify.
   */
  dataText?: string;
  /**
   * The envelope as decoded from the entry, when the pipeline's schema or upcasters gave `envelope` other data
   * or another version: the content hash is over the event as published (docs/wire-format.md#content-hash),
   * so it matches the producer's dedupe marker and does not change when a pipeline's schema does.
   */
  published?: Envelope;
  /** SHA-256 of the event's canonical content as published, once computed (inbox.ts itemHash). */
  contentHash?: string;
  /** Set by the pipeline's `prove` (decide/prove.ts): the proof's input hash, the effects and the proof. */
  inputHash?: string;
  effects?: readonly Effect[];
  proof?: string;
  /** What `decide` threw for this event: thrown by `apply` if the event is new (a duplicate is just acked). */
  decideError?: unknown;
  /** What the pipeline's `enrich` returned for it (enrich-step.ts); reaches `apply` as `event.enrichment`. */
  enrichment?: unknown;
}

/** What a runtime pipeline's `enrich` yields per item: its enrichment, or the refusal that dead-letters it. */
export type EnrichOutcome = { ok: true; value: unknown } | { ok: false; error: PoisonMessageError };

/** What the runtime hands a pipeline's enrich stage (enrich-step.ts). */
export interface RuntimeEnrichContext extends PipelineContext {
  call: import('./dependency-caller.ts').DependencyCaller['call'];
}

export type AcceptResult = { ok: true; envelope: Envelope } | { ok: false; error: PoisonMessageError };

/**
 * A pipeline: the event schemas it accepts and a set-based writer of their effects.
 * `accept` is pure; `apply` runs inside the sink's transaction.
 *
 * Its `name` is its identity for deduplication (docs/postgres.md#identity): the inbox is keyed by (pipeline
 * name, event id), so renaming a pipeline starts its dedupe state afresh.
 */
export interface Pipeline {
  readonly name: string;
  /** Shown in dead-letter headers. */
  readonly version: string;
  readonly registry: EventRegistry | undefined;
  /**
   * True when applying an event twice changes nothing by construction (an upsert keyed by the event's identity,
   * like event-log's archive keyed by stream and event id). The sink then writes no inbox row and `apply`
   * receives every distinct event of the batch, including redeliveries of events already applied. Only safe
   * when every effect is keyed by the event itself: a running total is not.
   */
  readonly idempotent?: boolean;
  /** Pure: whether the event is acceptable, and as what (a schema may transform `data`). */
  accept(envelope: Envelope, where: { entryId: string; stream: string }): AcceptResult;
  /**
   * Apply `items` (distinct event ids, in stream order) inside the sink's transaction. Without `idempotent`,
   * the inbox already holds exactly these events as new. Throw {@link PoisonMessageError} (or let Postgres raise
   * a class 22/23 error) for an event that can never apply: the sink bisects the batch to isolate it.
   */
  apply(tx: Queryable, items: readonly AcceptedItem[], context: PipelineContext): Promise<void>;
  /**
   * Fill the item's input hash and proof (and, for a decide pipeline, its effects) before the inbox records
   * it. Pure, idempotent (a bisected batch proves each item once), never throws: what `decide` throws is kept
   * on the item for `apply`.
   */
  prove?(item: AcceptedItem): void;
  /**
   * The pipeline's enrich stage, when it has one: runs before the transaction, one outcome per item in order.
   * Throws when the batch cannot be enriched now (an outage: transient; anything else: a failure of the batch).
   */
  enrich?(items: readonly AcceptedItem[], context: RuntimeEnrichContext): Promise<EnrichOutcome[]>;
  /** Per-dependency settings for the enrich stage's calls (definePipeline({ dependencies })). */
  readonly dependencies?: Readonly<Record<string, import('./dependency-caller.ts').DependencySettings>>;
}

export interface PipelineContext {
  stream: string;
  group: string;
}

/**
 * What became of a batch handed to the sink. Items in `applied` and `duplicates` are committed and may be
 * acknowledged. Transient failures are thrown as TransientError: the caller retries the whole batch, and
 * whatever part of it had committed comes back as duplicates.
 */
export interface SinkResult {
  applied: AcceptedItem[];
  duplicates: AcceptedItem[];
  /** Isolated to one event and permanent (typed poison, Postgres class 22/23): dead-letter it. */
  poison: Array<{ item: AcceptedItem; error: PoisonMessageError }>;
  /** Isolated to one event, cause unknown: leave it pending until its delivery count runs out. */
  failed: Array<{ item: AcceptedItem; error: unknown }>;
  /** Ordered mode (PgSinkOptions.orderKey): not written, behind an isolated event of their key. */
  deferred?: AcceptedItem[];
}

export interface BatchSink {
  write(items: readonly AcceptedItem[]): Promise<SinkResult>;
}

export interface DeadLetterRecord {
  entry: StreamEntry;
  reason: DeadLetterReason;
  /** Error class name (`PoisonMessageError`, `DatabaseError`, ...) and a truncated, secret-free message. */
  errorClass: string;
  errorMessage: string;
  /** Event type if the entry decoded far enough to know it; for `dlq stats --type`. */
  eventType?: string;
  eventId?: string;
}

/**
 * Moves entries to the stream's dead-letter stream: for each, XADD to the dead-letter stream and XACK on the
 * source happen atomically (one Lua call over keys of one hash tag).
 */
export interface DeadLetterer {
  deadLetter(records: readonly DeadLetterRecord[]): Promise<DeadLetterResult>;
}

export interface DeadLetterResult {
  /** Entries moved to the dead-letter stream by this call. */
  moved: number;
  /** Entries no longer pending for the group (moved by an earlier, retried call): nothing written. */
  skipped: number;
  /**
   * Optional: what became of each record, in the order given. `group_gone`: the group did not exist (NOGROUP)
   * or was recreated behind the entry, so nothing was moved and the entry will be delivered again by the
   * recreated group; it must not be counted as dead-lettered.
   */
  statuses?: DeadLetterStatus[];
}

export type DeadLetterStatus = 'moved' | 'skipped' | 'group_gone';

/** What became of one batch of entries (batch-processor.ts). */
export interface BatchResult {
  acked: number;
  duplicates: number;
  deadLettered: number;
  /** Left pending for a later delivery (unknown failure, or given up at shutdown). */
  leftPending: number;
}
