import type { Envelope } from '../lib/envelope.ts';
import { isPoisonError, PoisonMessageError, REASON_PATTERN } from '../lib/errors.ts';
import { createEventRegistry } from '../lib/event-registry.ts';
import type { AnyPipeline, PipelineEvent, Transaction } from './define-pipeline.ts';
import type { AcceptedItem, Pipeline } from './types.ts';

/**
 * A user's pipeline (definePipeline) as the runtime drives it: `accept` validates an envelope against the
 * declared events and the pipeline's own `check` (pure, before any transaction); `apply` turns accepted items
 * into typed events and hands them to the pipeline's `apply`, or to `handle` one by one.
 */
export function toRuntimePipeline(definition: AnyPipeline): Pipeline {
  const registry = definition.events ? createEventRegistry(definition.events) : undefined;
  const { check, apply, handle } = definition;

  function refuse(error: unknown): { ok: false; error: PoisonMessageError } {
    if (isPoisonError(error) && REASON_PATTERN.test(error.reason)) {
      if (error instanceof PoisonMessageError) return { ok: false, error };
      // Built by another copy of the package (the pipeline file's own node_modules): rebuilt as ours.
      const foreign = error as { reason: string; message: string };
      return { ok: false, error: new PoisonMessageError(foreign.reason, foreign.message, { cause: error }) };
    }
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
    async apply(tx, items, context) {
      if (items.length === 0) return;
      const events = items.map((item) => toEvent(item.envelope, item.entry.id, context.stream, item));
      const ctx = { stream: context.stream, group: context.group, pipeline: definition.name };
      const t = tx as unknown as Transaction;
      if (apply) {
        await apply(t, events as never, ctx);
        return;
      }
      if (handle) for (const event of events) await handle(t, event as never, ctx);
    },
  };
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
  return event;
}
