import type { Envelope } from '../lib/envelope.ts';
import type { PoisonMessageError, ReasonCode } from '../lib/errors.ts';
import type { EventRegistry } from '../lib/event-registry.ts';
import type { Queryable } from '../lib/pg.ts';

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
}

export type AcceptResult = { ok: true; envelope: Envelope } | { ok: false; error: PoisonMessageError };

/**
 * A pipeline: the event schemas it accepts and a set-based writer of their effects.
 * `accept` is pure; `apply` runs inside the sink's transaction and receives only events not yet in the inbox.
 */
export interface Pipeline {
  readonly name: string;
  readonly version: number;
  readonly registry: EventRegistry | undefined;
  /**
   * Optional: true when `apply` can record the inbox itself (one statement for inbox rows and effects, fewer
   * round trips and bytes). The sink then passes `context.inbox`; see {@link PipelineContext.inbox}.
   */
  readonly recordsInbox?: boolean;
  accept(envelope: Envelope): AcceptResult;
  apply(tx: Queryable, items: readonly AcceptedItem[], context: PipelineContext): Promise<void>;
}

export interface PipelineContext {
  stream: string;
  group: string;
  /**
   * Present only when the sink asks a `recordsInbox` pipeline to record the inbox: `apply` then receives every
   * distinct event of the batch (not only new ones), inserts their inbox rows (keyed by group and event id,
   * in event-id order) in the sink's transaction, applies effects only for the events the inbox did not hold
   * yet, and sets `duplicates` to the ids the inbox already held (usually none, so usually nothing comes
   * back from Postgres). Absent: the sink has recorded the inbox and `apply` gets only new events.
   */
  inbox?: { duplicates: ReadonlySet<string> | undefined };
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
}

export interface BatchSink {
  write(items: readonly AcceptedItem[]): Promise<SinkResult>;
}

export interface DeadLetterRecord {
  entry: StreamEntry;
  reason: ReasonCode;
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
}
