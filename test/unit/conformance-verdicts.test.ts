import { describe, expect, it } from 'vitest';
import {
  chunk,
  interleave,
  judgeApplies,
  judgeBatchBoundaries,
  judgeIdempotence,
  judgeOverlap,
  judgePoison,
  type RunOutcome,
} from '../../src/testing/conformance-verdicts.ts';

function outcome(over: Partial<RunOutcome> = {}): RunOutcome {
  return { applied: [], duplicates: [], poison: [], failed: [], refused: [], snapshot: [], ...over };
}

const ref = outcome({ applied: ['a', 'b', 'c'], snapshot: [{ total: 6 }] });

describe('conformance verdicts', () => {
  it('chunk splits in order, the last batch shorter; refuses a size below 1', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([1, 2], 7)).toEqual([[1, 2]]);
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });

  it('interleave spreads poison inside the good events, keeping their order', () => {
    expect(interleave<number | string>([1, 2, 3, 4], ['x'])).toEqual([1, 2, 'x', 3, 4]);
    expect(interleave<number | string>([1, 2, 3, 4, 5], ['x', 'y'])).toEqual([1, 'x', 2, 3, 'y', 4, 5]);
    expect(interleave<number | string>([1], ['x', 'y'])).toEqual(['x', 'y', 1]);
  });

  it('applies_events: every event applied and visible in the snapshot', () => {
    expect(judgeApplies(ref, [], ['a', 'b', 'c']).passed).toBe(true);
    expect(judgeApplies(ref, [{ total: 6 }], ['a', 'b', 'c']).detail).toContain(
      'equals the snapshot of the empty',
    );
    const refused = outcome({ applied: ['a'], refused: [{ id: 'b', reason: 'schema_violation' }] });
    expect(judgeApplies(refused, [], ['a', 'b']).passed).toBe(false);
  });

  it('idempotence: duplicates and an unchanged snapshot with the inbox; only the snapshot when idempotent', () => {
    const dupes = outcome({ duplicates: ['a', 'b', 'c'], snapshot: [{ total: 6 }] });
    expect(judgeIdempotence(ref, dupes, false).passed).toBe(true);
    const reapplied = outcome({ applied: ['a', 'b', 'c'], snapshot: [{ total: 6 }] });
    expect(judgeIdempotence(ref, reapplied, false).passed).toBe(false);
    expect(judgeIdempotence(ref, reapplied, true).passed).toBe(true);
    const doubled = outcome({ applied: ['a', 'b', 'c'], snapshot: [{ total: 12 }] });
    const verdict = judgeIdempotence(ref, doubled, true);
    expect(verdict).toMatchObject({ passed: false, actual: [{ total: 12 }], expected: [{ total: 6 }] });
    expect(verdict.detail).toContain('declares `idempotent: true`');
  });

  it('idempotence, overlapping: a partial redelivery must end as one batch does', () => {
    const first = judgeIdempotence(
      ref,
      outcome({ duplicates: ['a', 'b', 'c'], snapshot: [{ total: 6 }] }),
      false,
    );
    const same = outcome({ applied: ['a', 'b', 'c'], duplicates: ['a'], snapshot: [{ total: 6 }] });
    expect(judgeOverlap(first, ref, same, 1)).toMatchObject({ property: 'idempotence', passed: true });
    const doubled = outcome({ applied: ['a', 'a', 'b', 'c'], snapshot: [{ total: 7 }] });
    const verdict = judgeOverlap(first, ref, doubled, 1);
    expect(verdict).toMatchObject({ passed: false, actual: [{ total: 7 }], expected: [{ total: 6 }] });
    expect(verdict.detail).toContain('first 1 events were already committed');
    const failedFirst = { ...first, passed: false, detail: 'x' };
    expect(judgeOverlap(failedFirst, ref, same, 1)).toBe(failedFirst);
  });

  it('batch_boundaries: every size must give the reference snapshot', () => {
    const same = outcome({ applied: ['a', 'b', 'c'], snapshot: [{ total: 6 }] });
    expect(judgeBatchBoundaries(ref, [{ size: 1, outcome: same }]).passed).toBe(true);
    const other = outcome({ applied: ['a', 'b', 'c'], snapshot: [{ total: 5 }] });
    const verdict = judgeBatchBoundaries(ref, [
      { size: 1, outcome: same },
      { size: 7, outcome: other },
    ]);
    expect(verdict.passed).toBe(false);
    expect(verdict.detail).toContain('in batches of 7');
  });

  it('poison_isolation: poison refused or isolated, batch-mates applied, no trace in the snapshot', () => {
    const isolated = outcome({
      applied: ['a', 'b', 'c'],
      poison: [{ id: 'p', reason: 'data_error' }],
      snapshot: [{ total: 6 }],
    });
    expect(judgePoison(ref, isolated, ['p']).passed).toBe(true);
    const refused = outcome({
      applied: ['a', 'b', 'c'],
      refused: [{ id: 'p', reason: 'schema_violation' }],
      snapshot: [{ total: 6 }],
    });
    expect(judgePoison(ref, refused, ['p']).passed).toBe(true);
    const retried = outcome({ applied: ['a', 'b', 'c'], failed: [{ id: 'p', error: 'Error: x' }] });
    expect(judgePoison(ref, retried, ['p']).detail).toContain('not poison (Error: x)');
    const swallowed = outcome({ applied: ['a', 'b', 'c', 'p'], snapshot: [{ total: 7 }] });
    expect(judgePoison(ref, swallowed, ['p']).detail).toContain('were applied');
    const mateLost = outcome({ applied: ['a', 'c'], poison: [{ id: 'p', reason: 'data_error' }] });
    expect(judgePoison(ref, mateLost, ['p']).detail).toContain('batch-mates were not all applied');
  });
});
