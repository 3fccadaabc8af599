import { z } from 'zod';
import { type PoisonMessageError, REASON_PATTERN, ValidationError } from '../lib/errors.ts';
import type { DecideContext, Effect, TableSpec } from './decide/effects.ts';
import { checkTablesSpec } from './decide/tables-spec.ts';
import type { CallOptions, DependencySettings } from './dependency-caller.ts';
import { checkUpcasters } from './upcast.ts';

/**
 * The public pipeline contract (docs/pipelines.md): a pipeline is a small object of typed events, its own
 * migrations and one function that applies a batch inside streamsink's transaction. The runtime does the rest:
 * reading, the inbox, ack after commit, reclaim, quarantine, bisection and dead letters. Semver-stable.
 */

/** One event type a pipeline accepts: (type, version) and the zod schema of its `data`. */
export interface EventSpec<T extends string = string, S extends z.ZodType = z.ZodType> {
  type: T;
  v: number;
  schema: S;
  /**
   * Raise this version's `data` (as its schema parsed it) to the next version's (v + 1), which must be
   * declared too; the result is validated by that version's schema. Pure: no I/O, no clock, no randomness,
   * the same output for the same input (docs/pipelines.md#versions-and-upcasters). A spec with `upcast` is
   * never seen by `apply`: its events arrive as the newest version. {@link eventVersions} builds a typed chain.
   */
  upcast?(data: z.output<S>): unknown;
}

/** An event as a pipeline receives it: decoded, validated by its schema, in stream order. */
export interface PipelineEvent<T extends string = string, D = unknown> {
  /** Event id: the producer's idempotency key. */
  id: string;
  type: T;
  v: number;
  /** Ordering / partition key. */
  key: string;
  /** When it occurred, ISO-8601 as published. */
  ts: string;
  /** The payload, as the schema parsed it (defaults and transforms applied): `z.infer` of its schema. */
  data: D;
  /** Redis stream entry id (`<ms>-<seq>`). */
  entryId: string;
  /** Logical stream name it was read from. */
  stream: string;
  /**
   * The entry's `data` field exactly as read, when `data` is what it parsed to (no schema transformed it):
   * lets an archive store the payload without re-serialising it (numbers stay exactly as written).
   */
  dataText?: string;
  /**
   * What the pipeline's `enrich` returned for this event (absent without `enrich`). Recorded with the event in
   * the inbox, so a redelivery reuses it instead of calling the service again (docs/load-management.md).
   */
  enrichment?: unknown;
}

/** The union of typed events a list of specs describes; specs with an upcaster are raised, so not in it. */
export type EventOf<E extends readonly EventSpec[]> = {
  [K in keyof E]: E[K] extends { upcast: (...args: never[]) => unknown }
    ? never
    : E[K] extends EventSpec<infer T, infer S>
      ? PipelineEvent<T, z.output<S>>
      : never;
}[number];

/**
 * What `decide` sees of an event: the event without where it was read (stream, entry id), which is exactly
 * what its proof's input hash covers (docs/proof.md). A union discriminated by `type`, like {@link EventOf}.
 */
export type DecideEventOf<E extends readonly EventSpec[]> =
  EventOf<E> extends infer X
    ? X extends PipelineEvent
      ? Omit<X, 'entryId' | 'stream' | 'dataText'>
      : never
    : never;

/**
 * What `apply` and `handle` run statements on: node-postgres' `query`, inside streamsink's transaction (never
 * BEGIN, COMMIT or ROLLBACK here). The config form names a prepared statement: parsed once per connection.
 */
export interface Transaction {
  query<R = Record<string, unknown>>(
    text: string | { text: string; values?: unknown[]; name?: string },
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

export interface ApplyContext {
  /** Logical stream name. */
  stream: string;
  /** Consumer group. */
  group: string;
  /** This pipeline's name. */
  pipeline: string;
}

/** What `enrich` receives beside the events. */
export interface EnrichContext extends ApplyContext {
  /**
   * Call another service: `fn` gets an AbortSignal that aborts when the attempt times out (pass it to fetch).
   * Attempts are bounded (`retries`, default 2, full-jitter backoff), each under `timeoutMs` (default 5000);
   * the dependency has a bulkhead and a circuit breaker. Throw `PermanentDependencyError` in `fn` for a
   * refusal that will never change (a 4xx): the event is dead-lettered. Any other failure is an outage: after
   * the retries (or at once while the circuit is open) the call throws DependencyUnavailableError, and the
   * batch waits and retries; nothing is dead-lettered for an outage.
   */
  call<T>(dependency: string, fn: (signal: AbortSignal) => Promise<T>, options?: CallOptions): Promise<T>;
  /**
   * Run `fn` for each event at once and collect the results in order, a refusal (PermanentDependencyError)
   * in its event's slot: what `enrich` returns. Any other failure is thrown once all have settled.
   *
   * @example
   * enrich: (events, ctx) =>
   *   ctx.settle(events, (e) =>
   *     ctx.call('fx', (signal) => fetchRate(e.data.currency, signal), { timeoutMs: 500, retries: 3 })),
   */
  settle<Ev, T>(events: readonly Ev[], fn: (event: Ev) => Promise<T>): Promise<Array<T | PoisonMessageError>>;
}

/** One migration of a pipeline's own tables; applied once, in list order, by `streamsink migrate --pipeline`. */
export interface PipelineMigration {
  /** Stable and unique within the pipeline (e.g. `0001-orders`). Never rename or edit an applied one. */
  name: string;
  sql: string;
}

export interface PipelineDefinition<E extends readonly EventSpec[] = readonly EventSpec[]> {
  /**
   * The pipeline's identity: its dedupe state (the inbox) is keyed by it, so renaming it starts afresh
   * (docs/postgres.md#identity). Also the default consumer group. 1-64 of `a-z 0-9 - _ .`.
   */
  name: string;
  /** Shown in dead-letter headers (`dlq show`): e.g. a semver or a git sha. Default `1`. */
  version?: string;
  /** Consumer group when the worker is not given one. Default: `name`. */
  group?: string;
  /**
   * The events it accepts. An event of another type or version is dead-lettered (`unknown_type`,
   * `unsupported_version`), one failing its schema as `schema_violation`. Omitted: every well-formed event is
   * accepted, `data` unvalidated (an archive).
   */
  events?: E;
  /** Its own tables: `streamsink migrate --pipeline` applies them after streamsink's own schema. */
  migrations?: readonly PipelineMigration[];
  /**
   * Dead-letter reason codes this pipeline may throw in {@link PoisonMessageError} beside the built-in
   * ones (docs/wire-format.md#reason-codes). `^[a-z][a-z0-9_]{0,63}$`.
   */
  reasons?: readonly string[];
  /**
   * True when applying an event twice changes nothing by construction: every effect is an upsert keyed by
   * the event's own id (as event-log's archive is). Then no inbox row is written (faster) and `apply` may
   * receive events it already applied. A running total, a counter or an insert without a key is NOT
   * idempotent. Default false: the inbox guarantees each event reaches `apply` once.
   */
  idempotent?: boolean;
  /**
   * `'key'`: events with the same `key` are applied in stream order, one after another, through crashes,
   * pauses and rebalancing (docs/scaling.md#ordering). Needs a partitioned stream (`stream create
   * --partitions P`); each partition is owned by one worker at a time (lease + fencing epoch), keys run in
   * parallel in lanes, and a batch given to `apply` holds a key's events in stream order (apply them in that
   * order). A dead-lettered event is skipped: its key's later events go on. Default `'none'`: batches commit in any order (fastest). The
   * worker's `--ordering` / STREAMSINK_ORDERING overrides it.
   */
  ordering?: 'key' | 'none';
  /**
   * A pure check beyond the schema (a business rule, a configured allow-list). Throw
   * {@link PoisonMessageError} to dead-letter the event at once. Runs before any transaction.
   */
  check?: (event: EventOf<E>) => void;
  /**
   * Enrich a batch from other services before the transaction opens (no database transaction is held across
   * the calls). Return one JSON value per event, in order: it reaches `apply` as `event.enrichment` and is
   * recorded with the event in the inbox. A slot may instead hold a `PermanentDependencyError` (or a
   * PoisonMessageError) to dead-letter that event alone; {@link EnrichContext.settle} builds such an array.
   * Throwing an outage (what `ctx.call` throws when a service is down) makes the batch wait and retry.
   * Events recorded by an earlier delivery are not passed again: their recorded enrichment is reused.
   */
  enrich?: (events: ReadonlyArray<EventOf<E>>, ctx: EnrichContext) => Promise<ReadonlyArray<unknown>>;
  /** Per-dependency bulkhead and breaker settings for `ctx.call` (keys are the names given to `call`). */
  dependencies?: Readonly<Record<string, DependencySettings>>;
  /**
   * Apply a batch inside streamsink's transaction, with set-based SQL. `events` are distinct, in stream
   * order, and (unless `idempotent`) new for this pipeline: the inbox rows are already written in the same
   * transaction. Throw {@link PoisonMessageError}, or let Postgres raise a class 22/23 error, for an event
   * that can never apply: the batch is bisected, that event dead-lettered, its batch-mates committed. Any
   * other error rolls back and is retried (connection trouble at once; the rest until max deliveries).
   */
  apply?: (tx: Transaction, events: ReadonlyArray<EventOf<E>>, ctx: ApplyContext) => Promise<void>;
  /**
   * The simple alternative to `apply`: one event at a time, inside the same transaction. Costs one round
   * trip per statement per event (see docs/pipelines.md for the speed difference); give exactly one of the two.
   */
  handle?: (tx: Transaction, event: EventOf<E>, ctx: ApplyContext) => Promise<void>;
  /**
   * The tables a `decide` pipeline writes: per table its conflict key and a merge rule per column
   * (`set`, `add`, `max`, `min`, `keep-first`, `{ maxBy }`), and optionally `touch` columns set to now().
   */
  tables?: Readonly<Record<string, TableSpec>>;
  /**
   * The third alternative to `apply` and `handle`: a pure function from one event to the rows it merges into
   * `tables`. No I/O, no clock, no randomness: streamsink records a SHA-256 proof of (input, effects) per event
   * and `streamsink replay` re-runs `decide` to show the same events give the same effects. streamsink folds a
   * batch's effects by key and writes each table with one set-based statement in the inbox transaction.
   * `ctx` is reserved for a recorded enrichment; it is empty today.
   */
  decide?: (event: DecideEventOf<E>, ctx: DecideContext) => readonly Effect[];
}

/** A checked, frozen pipeline definition, as `definePipeline` returns it. */
export type DefinedPipeline<E extends readonly EventSpec[] = readonly EventSpec[]> = Readonly<
  PipelineDefinition<E> & { name: string; version: string; group: string }
> & { readonly [PIPELINE_BRAND]: true };

/**
 * A defined pipeline, whatever its events: what the runtime, the loader and `startWorker` take. Its
 * functions take `never`, so a pipeline of any event list fits (only the pipeline's own code knows the types).
 */
export type AnyPipeline = Readonly<
  Omit<PipelineDefinition, 'check' | 'apply' | 'handle' | 'decide' | 'enrich'> & {
    name: string;
    version: string;
    group: string;
    check?: (event: never) => void;
    enrich?: (events: never, ctx: EnrichContext) => Promise<ReadonlyArray<unknown>>;
    apply?: (tx: Transaction, events: never, ctx: ApplyContext) => Promise<void>;
    handle?: (tx: Transaction, event: never, ctx: ApplyContext) => Promise<void>;
    decide?: (event: never, ctx: DecideContext) => readonly Effect[];
  }
> & { readonly [PIPELINE_BRAND]: true };

const PIPELINE_BRAND: unique symbol = Symbol.for('streamsink.pipeline');

const definitionSchema = z.strictObject({
  name: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9._-]{0,63}$/,
      '1-64 characters of a-z 0-9 . _ -, starting with a letter or digit',
    ),
  version: z.string().min(1).max(64).optional(),
  group: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,200}$/, 'a consumer group name')
    .optional(),
  events: z
    .array(
      z.strictObject({
        type: z.string().regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/, 'an event type'),
        v: z.number().int().min(1).max(999_999_999),
        schema: z.custom<z.ZodType>(
          (s) => s instanceof Object && typeof (s as z.ZodType).safeParse === 'function',
          'a zod schema',
        ),
        upcast: z.function().optional(),
      }),
    )
    .min(1)
    .optional(),
  migrations: z
    .array(z.strictObject({ name: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/), sql: z.string().min(1) }))
    .optional(),
  reasons: z.array(z.string().regex(REASON_PATTERN, 'a reason code: ^[a-z][a-z0-9_]{0,63}$')).optional(),
  idempotent: z.boolean().optional(),
  ordering: z.enum(['key', 'none']).optional(),
  check: z.function().optional(),
  enrich: z.function().optional(),
  dependencies: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'a dependency name: ^[a-z][a-z0-9_.-]{0,63}$'),
      z.strictObject({
        maxConcurrent: z.number().int().min(1).max(10_000).optional(),
        breaker: z
          .strictObject({
            failureRate: z.number().gt(0).lt(1).optional(),
            windowMs: z.number().int().min(1000).max(600_000).optional(),
            minCalls: z.number().int().min(1).max(100_000).optional(),
            halfOpenAfterMs: z.number().int().min(100).max(600_000).optional(),
          })
          .optional(),
      }),
    )
    .optional(),
  apply: z.function().optional(),
  handle: z.function().optional(),
  tables: z.record(z.string(), z.unknown()).optional(),
  decide: z.function().optional(),
});

/**
 * Declare a pipeline. Checks the definition at once (for JavaScript callers too): an unknown key, a bad name,
 * two specs for one (type, v), two migrations with one name, not exactly one of `apply` / `handle` / `decide`,
 * or `tables` that do not fit `decide` (a bad identifier, a rule that does not exist) throws
 * a {@link ValidationError} naming the field.
 *
 * @example
 * export default definePipeline({
 *   name: 'orders',
 *   events: [{ type: 'order.line_added', v: 1, schema: z.object({ orderId: z.string(), amountMinor: z.number().int() }) }],
 *   migrations: [{ name: '0001-orders', sql: 'CREATE TABLE orders (order_id text PRIMARY KEY, total_minor bigint NOT NULL)' }],
 *   async apply(tx, events) {
 *     await tx.query(`INSERT INTO orders ... SELECT ... FROM unnest($1::text[], $2::bigint[]) ...`, [...]);
 *   },
 * });
 */
export function definePipeline<const E extends readonly EventSpec[]>(
  definition: PipelineDefinition<E>,
): DefinedPipeline<E> {
  const parsed = definitionSchema.safeParse(definition);
  const issues = parsed.success
    ? []
    : parsed.error.issues.map((i) => ({
        path: i.path.map(String).join('.') || '(definition)',
        message: i.message,
      }));
  if (parsed.success) {
    const forms = [definition.apply, definition.handle, definition.decide].filter((f) => f !== undefined);
    if (forms.length !== 1)
      issues.push({
        path: 'apply',
        message: 'give exactly one of apply (a batch), handle (one event) and decide (effects of one event)',
      });
    if ((definition.decide === undefined) !== (definition.tables === undefined))
      issues.push({
        path: 'tables',
        message: 'decide and tables go together: decide writes the declared tables',
      });
    else if (definition.tables !== undefined) issues.push(...checkTablesSpec(definition.tables));
    if (definition.decide !== undefined && definition.idempotent === true)
      issues.push({
        path: 'idempotent',
        message: 'a decide pipeline always keeps an inbox (its proofs live there)',
      });
    const specs = new Set<string>();
    for (const [i, e] of (definition.events ?? []).entries()) {
      const id = `${e.type} v${e.v}`;
      if (specs.has(id)) issues.push({ path: `events.${i}`, message: `${id} is declared twice` });
      specs.add(id);
    }
    issues.push(...checkUpcasters(definition.events ?? []));
    const names = new Set<string>();
    for (const [i, m] of (definition.migrations ?? []).entries()) {
      if (names.has(m.name))
        issues.push({ path: `migrations.${i}.name`, message: `${m.name} is declared twice` });
      names.add(m.name);
    }
  }
  if (issues.length > 0)
    throw new ValidationError(
      'schema_violation',
      issues.map((i) => ({ ...i, path: `definePipeline: ${i.path}` })),
    );
  return Object.freeze({
    ...definition,
    version: definition.version ?? '1',
    group: definition.group ?? definition.name,
    [PIPELINE_BRAND]: true as const,
  });
}

/** Whether `value` came out of {@link definePipeline} (in this or another copy of the package). */
export function isDefinedPipeline(value: unknown): value is AnyPipeline {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PIPELINE_BRAND] === true
  );
}
