import type { Envelope } from '../lib/envelope.ts';
import { isPoisonError, PoisonMessageError, REASON_PATTERN } from '../lib/errors.ts';
import { createEventRegistry } from '../lib/event-registry.ts';
import { tablesColumns } from './decide/check-effects.ts';
import { type Effect, foldEffects } from './decide/effects.ts';
import { effectLayouts, pipelineLabel } from './decide/proof.ts';
import { type DecideFunction, type Decider, proveItem } from './decide/prove.ts';
import { type TableStatements, writeFolded } from './decide/upsert-sql.ts';
import type { AnyPipeline, EnrichContext, PipelineEvent, Transaction } from './define-pipeline.ts';
import type { AcceptedItem, EnrichOutcome, Pipeline, RuntimeEnrichContext } from './types.ts';
import { createUpcaster, type UpcastResult } from './upcast.ts';

/**
 * A user's pipeline (definePipeline) as the runtime drives it: `accept` validates an envelope against the
 * declared events and the pipeline's own `check` (pure, before any transaction); `apply` turns accepted items
 * into typed events and hands them to the pipeline's `apply`, or to `handle` one by one.
 */
export function toRuntimePipeline(definition: AnyPipeline): Pipeline {
  const registry = definition.events ? createEventRegistry(definition.events) : undefined;
  const upcast = registry && definition.events ? createUpcaster(definition.events, registry) : undefined;
  const { check, apply, handle, enrich } = definition;
  const decider: Decider | undefined =
    definition.decide && definition.tables
      ? {
          decide: definition.decide as DecideFunction,
          tables: definition.tables,
          layouts: effectLayouts(definition.tables),
          columns: tablesColumns(definition.tables),
        }
      : undefined;
  const label = pipelineLabel(definition);
  // Upsert statements, built once per table from the catalog (upsert-sql.ts); this pipeline instance's own.
  const statements = new Map<string, TableStatements>();
  const wrapDecideError = (error: unknown) => asOwnPoison(error) ?? error;

  function refuse(error: unknown): { ok: false; error: PoisonMessageError } {
    const poison = asOwnPoison(error);
    if (poison) return { ok: false, error: poison };
    // A check that throws anything else is a bug in the pipeline, but the event cannot pass it: refuse it,
    // with what was thrown, rather than crash the worker.
    const message = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      error: new PoisonMessageError('schema_violation', `schema_violation: check threw: ${message}`),
    };
  }

  return {
    name: definition.name,
    version: definition.version,
    registry,
    idempotent: definition.idempotent === true,
    ...(definition.dependencies ? { dependencies: definition.dependencies } : {}),
    ...(enrich
      ? {
          enrich: (items: readonly AcceptedItem[], context: RuntimeEnrichContext) =>
            runEnrich(enrich, items, context, definition.name),
        }
      : {}),
    accept(envelope, where) {
      let accepted: Envelope = envelope;
      if (registry) {
        const checked = registry.check(envelope);
        if (!checked.ok) {
          const detail = checked.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
          return { ok: false, error: new PoisonMessageError(checked.reason, `${checked.reason}: ${detail}`) };
        }
        // The schema's output (defaults, transforms) is what the pipeline sees; unchanged data keeps identity.
        if (checked.data !== envelope.data) accepted = { ...envelope, data: checked.data };
        // An older version is raised to the newest its type declares (upcast.ts).
        const raised: UpcastResult = upcast ? upcast(accepted) : { ok: true, envelope: accepted };
        if (!raised.ok) return raised;
        accepted = raised.envelope;
      }
      if (check) {
        try {
          check(toEvent(accepted, where.entryId, where.stream) as never);
        } catch (error) {
          return refuse(error);
        }
      }
      return { ok: true, envelope: accepted };
    },
    prove(item) {
      proveItem(item, label, decider, wrapDecideError);
    },
    async apply(tx, items, context) {
      if (items.length === 0) return;
      if (decider) {
        for (const item of items) {
          proveItem(item, label, decider, wrapDecideError);
          if (item.decideError !== undefined) throw item.decideError;
        }
        await writeFolded(tx, foldEffects(effectsOf(items), decider.tables), statements);
        return;
      }
      const events = items.map((item) => toEvent(item.envelope, item.entry.id, context.stream, item));
      const ctx = { stream: context.stream, group: context.group, pipeline: definition.name };
      const t = tx as unknown as Transaction;
      try {
        if (apply) await apply(t, events as never, ctx);
        else if (handle) for (const event of events) await handle(t, event as never, ctx);
      } catch (error) {
        // Poison from another copy of the package too, so the sink isolates the event instead of retrying it.
        throw asOwnPoison(error) ?? error;
      }
    },
  };
}

function effectsOf(items: readonly AcceptedItem[]): Effect[] {
  const out: Effect[] = [];
  for (const item of items) if (item.effects) for (const e of item.effects) out.push(e);
  return out;
}

/**
 * `error` as this copy's PoisonMessageError when it is one by code (with a valid reason), else undefined. One
 * built by another copy of the package (the pipeline file's own node_modules) is rebuilt as ours: the sink
 * and the batch processor recognise poison by class.
 */
function asOwnPoison(error: unknown): PoisonMessageError | undefined {
  if (!isPoisonError(error)) return undefined;
  // Still poison, but a reason that is not shaped like one would make an entry no reader accepts.
  if (!REASON_PATTERN.test(error.reason))
    return new PoisonMessageError(
      'schema_violation',
      `schema_violation: the pipeline refused the event with a malformed reason code ${JSON.stringify(String(error.reason).slice(0, 64))}: ${error.message}`,
      { cause: error },
    );
  if (error instanceof PoisonMessageError) return error;
  const foreign = error as { reason: string; message: string };
  return new PoisonMessageError(foreign.reason, foreign.message, { cause: error });
}

type EnrichFn = (events: never, ctx: EnrichContext) => Promise<ReadonlyArray<unknown>>;

/**
 * Run a pipeline's `enrich` over `items`. A refusal in a slot dead-letters that event; a refusal thrown for the
 * whole call is narrowed down by enriching each event alone (as the sink bisects a failing batch), so one
 * refused event never takes its batch-mates with it. Anything else thrown (an outage) is the batch's.
 */
async function runEnrich(
  enrich: EnrichFn,
  items: readonly AcceptedItem[],
  context: RuntimeEnrichContext,
  pipeline: string,
): Promise<EnrichOutcome[]> {
  const ctx: EnrichContext = {
    stream: context.stream,
    group: context.group,
    pipeline,
    call: context.call,
    async settle(events, fn) {
      const settled = await Promise.allSettled(events.map((e) => fn(e)));
      const out = [];
      for (const s of settled) {
        if (s.status === 'fulfilled') out.push(s.value);
        else if (asOwnPoison(s.reason)) out.push(asOwnPoison(s.reason) as PoisonMessageError);
        else throw s.reason;
      }
      return out;
    },
  };
  const once = async (batch: readonly AcceptedItem[]): Promise<EnrichOutcome[]> => {
    const events = batch.map((item) => toEvent(item.envelope, item.entry.id, context.stream, item));
    const values = await enrich(events as never, ctx);
    if (!Array.isArray(values) || values.length !== batch.length)
      throw new TypeError(
        `enrich of pipeline ${pipeline} must return one value per event (${batch.length}), got ${Array.isArray(values) ? values.length : typeof values}`,
      );
    return values.map((value) => {
      const poison = asOwnPoison(value);
      return poison ? { ok: false, error: poison } : { ok: true, value };
    });
  };
  try {
    return await once(items);
  } catch (error) {
    const poison = asOwnPoison(error);
    if (!poison) throw error;
    if (items.length === 1) return [{ ok: false, error: poison }];
    const out: EnrichOutcome[] = [];
    for (const item of items) out.push(...(await once([item]).catch(refusalOf)));
    return out;
  }
}

/** A single event's enrich threw: its refusal, or the outage rethrown. */
function refusalOf(error: unknown): EnrichOutcome[] {
  const poison = asOwnPoison(error);
  if (!poison) throw error;
  return [{ ok: false, error: poison }];
}

function toEvent(envelope: Envelope, entryId: string, stream: string, item?: AcceptedItem): PipelineEvent {
  const event: PipelineEvent = {
    id: envelope.id,
    type: envelope.type,
    v: envelope.v,
    key: envelope.key,
    ts: envelope.ts,
    data: envelope.data,
    entryId,
    stream,
  };
  if (item?.dataText !== undefined) event.dataText = item.dataText;
  if (item?.enrichment !== undefined) event.enrichment = item.enrichment;
  return event;
}
