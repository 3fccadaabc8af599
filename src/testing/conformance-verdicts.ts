import { isDeepStrictEqual } from 'node:util';

/**
 * The pure half of the conformance helper (conformance.ts): how events are split and mixed, and whether what a
 * run did satisfies each property. No I/O, so every verdict is unit-tested with made-up runs.
 */

/** The properties `checkPipelineConformance` checks, by the name a failure reports. */
export type ConformanceProperty =
  /** Every good event is applied on its first delivery, and the snapshot shows it. */
  | 'applies_events'
  /** The same events split into batches of other sizes give the same snapshot. */
  | 'batch_boundaries'
  /**
   * Writing the same batch again changes nothing (with the inbox, all of it counts as duplicates), nor does a
   * batch that overlaps a committed one.
   */
  | 'idempotence'
  /** A poison event is isolated (dead-lettered, not retried) and its batch-mates commit. */
  | 'poison_isolation'
  /** Events at an older version are upcast to the same data every time (checked when some are given). */
  | 'upcasters';

export interface PropertyResult {
  property: ConformanceProperty;
  passed: boolean;
  /** One sentence: what was checked, or what went wrong. */
  detail: string;
  /** On failure, what was seen and what was expected (an assertion diff shows them). */
  actual?: unknown;
  expected?: unknown;
}

/** What one run of events through the sink did, by event id. */
export interface RunOutcome {
  applied: string[];
  duplicates: string[];
  /** Isolated by the sink as poison (PoisonMessageError or Postgres class 22/23 in apply). */
  poison: Array<{ id: string; reason: string }>;
  /** Isolated by the sink with an unknown cause: the worker would retry it until max deliveries. */
  failed: Array<{ id: string; error: string }>;
  /** Refused before any transaction: by the declared schemas or the pipeline's `check`. */
  refused: Array<{ id: string; reason: string }>;
  /** What the caller's `snapshot` returned after the run. */
  snapshot: unknown;
}

/** `items` in consecutive batches of `size` (the last one shorter). */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`batch size must be a positive integer: ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * `good` with the `poison` events spread through it (never all at one end), so a bisecting sink has good
 * events on both sides of each poison event. Good events keep their relative order.
 */
export function interleave<T>(good: readonly T[], poison: readonly T[]): T[] {
  const out = [...good];
  // From the back, so earlier insertion points stay where they were computed.
  for (let j = poison.length - 1; j >= 0; j--) {
    const at = Math.floor(((j + 1) * good.length) / (poison.length + 1));
    out.splice(at, 0, poison[j] as T);
  }
  return out;
}

const ids = (list: ReadonlyArray<{ id: string }>) => list.map((x) => x.id);

function fail(
  property: ConformanceProperty,
  detail: string,
  actual: unknown,
  expected: unknown,
): PropertyResult {
  return { property, passed: false, detail, actual, expected };
}

/** The reference run (all events in one batch) applied every event, and the snapshot changed because of it. */
export function judgeApplies(
  reference: RunOutcome,
  emptySnapshot: unknown,
  eventIds: readonly string[],
): PropertyResult {
  const property = 'applies_events';
  const notApplied = [...reference.refused, ...reference.poison, ...reference.failed];
  if (notApplied.length > 0)
    return fail(
      property,
      `${notApplied.length} of the ${eventIds.length} good events were not applied (refused, poison or failed): ` +
        'pass only events the pipeline accepts in `events`, and the refused ones as `poison`',
      { refused: reference.refused, poison: reference.poison, failed: reference.failed },
      { refused: [], poison: [], failed: [] },
    );
  if (!isDeepStrictEqual([...reference.applied].sort(), [...eventIds].sort()))
    return fail(property, 'the events applied are not the events given', reference.applied, eventIds);
  if (isDeepStrictEqual(reference.snapshot, emptySnapshot))
    return fail(
      property,
      'the snapshot after applying every event equals the snapshot of the empty schema: ' +
        'snapshot() must return the rows the pipeline writes, or no property below can fail',
      reference.snapshot,
      '(anything but the empty snapshot)',
    );
  return { property, passed: true, detail: `all ${eventIds.length} events applied in one batch` };
}

/**
 * The same batch written again (a redelivery) changed nothing. With the inbox every event is a duplicate; a
 * pipeline that declares `idempotent` gets them again in `apply`, and its effects must absorb them.
 */
export function judgeIdempotence(
  reference: RunOutcome,
  again: RunOutcome,
  declaredIdempotent: boolean,
): PropertyResult {
  const property = 'idempotence';
  if (!declaredIdempotent && again.applied.length > 0)
    return fail(
      property,
      `${again.applied.length} events were applied a second time: the inbox did not recognise them`,
      { applied: again.applied.length, duplicates: again.duplicates.length },
      { applied: 0, duplicates: reference.applied.length },
    );
  const troubled = [...again.poison, ...again.failed, ...again.refused];
  if (troubled.length > 0)
    return fail(
      property,
      'writing the same batch again failed for some events (a redelivery must be harmless)',
      { poison: again.poison, failed: again.failed, refused: again.refused },
      { poison: [], failed: [], refused: [] },
    );
  if (!isDeepStrictEqual(again.snapshot, reference.snapshot))
    return fail(
      property,
      declaredIdempotent
        ? 'the pipeline declares `idempotent: true`, but applying the same events again changed the snapshot: ' +
            'its effects are not keyed by the event (drop `idempotent` to let the inbox deduplicate)'
        : 'writing the same batch again changed the snapshot although every event was a duplicate',
      again.snapshot,
      reference.snapshot,
    );
  return {
    property,
    passed: true,
    detail: declaredIdempotent
      ? `all ${reference.applied.length} events applied again (idempotent: no inbox), snapshot unchanged`
      : `all ${again.duplicates.length} events were duplicates the second time, snapshot unchanged`,
  };
}

/**
 * A redelivered batch that overlaps a committed one (its first `committed` events were applied by an earlier
 * batch, the rest are new) ends as one batch does: the inbox hands `apply` only the new ones; an `idempotent`
 * pipeline gets them all and must absorb the repeats. `first` is the verdict of the plain redelivery.
 */
export function judgeOverlap(
  first: PropertyResult,
  reference: RunOutcome,
  overlap: RunOutcome,
  committed: number,
): PropertyResult {
  if (!first.passed) return first;
  const property = 'idempotence';
  const troubled = [...overlap.poison, ...overlap.failed, ...overlap.refused];
  if (troubled.length > 0)
    return fail(
      property,
      'a batch overlapping a committed one failed for some events (a redelivery must be harmless)',
      { poison: overlap.poison, failed: overlap.failed, refused: overlap.refused },
      { poison: [], failed: [], refused: [] },
    );
  if (!isDeepStrictEqual(overlap.snapshot, reference.snapshot))
    return fail(
      property,
      `a batch whose first ${committed} events were already committed (a partial redelivery) changed the ` +
        'result: the snapshot differs from one batch of every event',
      overlap.snapshot,
      reference.snapshot,
    );
  return {
    property,
    passed: true,
    detail: `${first.detail}; a batch overlapping ${committed} committed events ends the same`,
  };
}

/** Batches of other sizes gave the same snapshot as one batch, and applied every event once. */
export function judgeBatchBoundaries(
  reference: RunOutcome,
  runs: ReadonlyArray<{ size: number; outcome: RunOutcome }>,
): PropertyResult {
  const property = 'batch_boundaries';
  for (const { size, outcome } of runs) {
    if (outcome.applied.length !== reference.applied.length)
      return fail(
        property,
        `in batches of ${size}, ${outcome.applied.length} events were applied instead of ${reference.applied.length}`,
        { applied: outcome.applied.length, poison: outcome.poison, failed: outcome.failed },
        { applied: reference.applied.length, poison: [], failed: [] },
      );
    if (!isDeepStrictEqual(outcome.snapshot, reference.snapshot))
      return fail(
        property,
        `in batches of ${size} the snapshot differs from one batch of ${reference.applied.length}: ` +
          'the effects depend on where batches start and end (e.g. "last in batch wins" with ON CONFLICT DO NOTHING)',
        outcome.snapshot,
        reference.snapshot,
      );
  }
  return {
    property,
    passed: true,
    detail: `batches of ${runs.map((r) => r.size).join(', ')} and ${reference.applied.length}: same snapshot`,
  };
}

/**
 * Every poison event was refused or isolated as poison (dead-lettered at once, not left to be retried), every
 * good event around it was applied, and the snapshot is that of the good events alone.
 */
export function judgePoison(
  reference: RunOutcome,
  mixed: RunOutcome,
  poisonIds: readonly string[],
): PropertyResult {
  const property = 'poison_isolation';
  const isolated = new Set([...ids(mixed.refused), ...ids(mixed.poison)]);
  const missed = poisonIds.filter((id) => !isolated.has(id));
  if (missed.length > 0) {
    const failed = mixed.failed.filter((f) => missed.includes(f.id));
    return fail(
      property,
      failed.length > 0
        ? `poison event(s) ${missed.join(', ')} failed with an error that is not poison (${failed[0]?.error}): ` +
            'the worker would retry it until max deliveries; throw PoisonMessageError (or let Postgres raise ' +
            'a class 22/23 error) for an event that can never apply'
        : `poison event(s) ${missed.join(', ')} were applied: neither the schemas, check nor apply refused them`,
      { isolated: [...isolated], applied: mixed.applied.filter((id) => poisonIds.includes(id)), failed },
      { isolated: [...poisonIds], applied: [], failed: [] },
    );
  }
  const expectedApplied = [...reference.applied].sort();
  const applied = [...mixed.applied].sort();
  if (!isDeepStrictEqual(applied, expectedApplied) || mixed.failed.length > 0)
    return fail(
      property,
      "the poison event's batch-mates were not all applied",
      { applied: applied.length, failed: mixed.failed, poison: mixed.poison },
      { applied: expectedApplied.length, failed: [], poison: poisonIds.length },
    );
  if (!isDeepStrictEqual(mixed.snapshot, reference.snapshot))
    return fail(
      property,
      'with the poison event in the batch the snapshot differs from the good events alone: ' +
        'the poison event left an effect behind',
      mixed.snapshot,
      reference.snapshot,
    );
  const how = [
    ...mixed.refused.map((r) => `${r.id} refused before apply (${r.reason})`),
    ...mixed.poison.map((p) => `${p.id} isolated from its batch (${p.reason})`),
  ];
  return { property, passed: true, detail: `${how.join('; ')}; its ${applied.length} batch-mates applied` };
}
