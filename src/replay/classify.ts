/**
 * What replay concludes about one stream entry (docs/proof.md#replay). Pure.
 *
 *   OK                the entry is what was applied, and re-running `decide` gives the recorded proof
 *   INPUT_MISMATCH    the entry applied under this id is not what the stream holds now (input hash differs)
 *   NONDETERMINISTIC  same pipeline version, different effects (or `decide` now refuses the event)
 *   VERSION_DRIFT     applied by another version of the pipeline: effects not compared (expected after a deploy)
 *   MISSING           no inbox row: never applied by this pipeline (not yet read, or dead-lettered)
 *   DUPLICATE         the event id was applied from another entry (a producer retry): same content
 *   ID_CONFLICT       the event id was applied from another entry with other content (dead-lettered then)
 *   UNPROVEN          applied before proofs were recorded (schema < 6, or by an older worker)
 */
export const REPLAY_CLASSES = [
  'OK',
  'INPUT_MISMATCH',
  'NONDETERMINISTIC',
  'VERSION_DRIFT',
  'MISSING',
  'DUPLICATE',
  'ID_CONFLICT',
  'UNPROVEN',
] as const;
export type ReplayClass = (typeof REPLAY_CLASSES)[number];

/** The classes that fail a replay (exit 1). */
export const FAILING_CLASSES: ReadonlySet<ReplayClass> = new Set(['INPUT_MISMATCH', 'NONDETERMINISTIC']);

/** The inbox row recorded for the entry's event id, hashes in hex. */
export interface RecordedRow {
  stream: string;
  entryId: string;
  contentHash: string | null;
  inputHash: string | null;
  proof: string | null;
  version: string | null;
}

/** What replay recomputed from the entry now. */
export type Recomputed =
  | { ok: true; contentHash: string; inputHash: string; proof: string }
  /** The entry no longer decodes or the pipeline refuses it (schema, check, decide): `why`. */
  | { ok: false; contentHash?: string; inputHash?: string; why: string };

export interface Verdict {
  class: ReplayClass;
  detail?: string;
}

export function classifyEntry(input: {
  stream: string;
  entryId: string;
  version: string;
  recorded: RecordedRow | undefined;
  now: Recomputed;
}): Verdict {
  const { recorded: row, now } = input;
  if (!row) return { class: 'MISSING', ...(now.ok ? {} : { detail: `refused now: ${now.why}` }) };
  if (row.stream !== input.stream || row.entryId !== input.entryId) {
    const where = `applied from ${row.stream} ${row.entryId}`;
    if (now.contentHash !== undefined && row.contentHash !== null && now.contentHash !== row.contentHash)
      return { class: 'ID_CONFLICT', detail: where };
    return { class: 'DUPLICATE', detail: where };
  }
  if (row.inputHash === null || row.proof === null) return { class: 'UNPROVEN' };
  if (now.inputHash !== undefined && now.inputHash !== row.inputHash)
    return {
      class: 'INPUT_MISMATCH',
      detail: `recorded input_hash ${row.inputHash}, entry now ${now.inputHash}`,
    };
  if (row.version !== input.version)
    return {
      class: 'VERSION_DRIFT',
      detail: `applied by version ${row.version}, replayed with ${input.version}`,
    };
  if (!now.ok) return { class: 'NONDETERMINISTIC', detail: `applied, but refused now: ${now.why}` };
  if (now.proof !== row.proof)
    return { class: 'NONDETERMINISTIC', detail: `recorded proof ${row.proof}, recomputed ${now.proof}` };
  return { class: 'OK' };
}

/** Counts per class and the first few examples of each: bounded memory over any number of entries. */
export interface ReplayTally {
  entries: number;
  counts: Record<ReplayClass, number>;
  examples: Record<ReplayClass, Array<{ entryId: string; eventId?: string; detail?: string }>>;
}

export function newTally(): ReplayTally {
  const counts = {} as Record<ReplayClass, number>;
  const examples = {} as ReplayTally['examples'];
  for (const c of REPLAY_CLASSES) {
    counts[c] = 0;
    examples[c] = [];
  }
  return { entries: 0, counts, examples };
}

export function addToTally(
  tally: ReplayTally,
  verdict: Verdict,
  where: { entryId: string; eventId?: string },
  maxExamples: number,
): void {
  tally.entries += 1;
  tally.counts[verdict.class] += 1;
  const list = tally.examples[verdict.class];
  if (list.length < maxExamples)
    list.push({
      entryId: where.entryId,
      ...(where.eventId !== undefined ? { eventId: where.eventId } : {}),
      ...(verdict.detail !== undefined ? { detail: verdict.detail } : {}),
    });
}

export function replayFailed(tally: ReplayTally): boolean {
  return [...FAILING_CLASSES].some((c) => tally.counts[c] > 0);
}
