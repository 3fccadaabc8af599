import { describe, expect, it } from 'vitest';
import { assignPartitions, movedPartitions, ownersOf } from '../../../src/consumers/partitions/assignment.ts';

/** Seeded member names, so a failure reproduces. */
function members(trial: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `worker-${trial}-${i}`);
}

function loads(a: Map<string, number[]>): number[] {
  return [...a.values()].map((l) => l.length);
}

/** Run the assignment as workers do: each round sees the owners the previous round produced. */
function settle(names: string[], partitions: number, owners?: Array<string | undefined>) {
  return assignPartitions({ members: names, partitions, ...(owners ? { owners } : {}) });
}

describe('capped sticky rendezvous assignment', () => {
  const P = 64;
  const trials = Array.from({ length: 200 }, (_, t) => t);

  it('10 workers over 64 partitions: every partition owned once, each load within one of even', () => {
    for (const t of trials) {
      const a = settle(members(t, 10), P);
      const owned = [...a.values()].flat().sort((x, y) => x - y);
      expect(owned).toEqual(Array.from({ length: P }, (_, p) => p));
      for (const load of loads(a)) {
        expect(load).toBeGreaterThanOrEqual(Math.floor(P / 10));
        expect(load).toBeLessThanOrEqual(Math.ceil(P / 10));
      }
    }
  });

  it('is a fixed point: recomputing from its own owners moves nothing', () => {
    for (const t of trials) {
      const a = settle(members(t, 10), P);
      expect(movedPartitions(a, settle(members(t, 10), P, ownersOf(a, P)), P)).toEqual([]);
    }
  });

  it('a join moves at most ceil(64/11)+1 partitions, all to the newcomer, and stays balanced', () => {
    const bound = Math.ceil(P / 11) + 1;
    for (const t of trials) {
      const before = settle(members(t, 10), P);
      const after = settle([...members(t, 10), `joiner-${t}`], P, ownersOf(before, P));
      const moved = movedPartitions(before, after, P);
      expect(moved.length).toBeLessThanOrEqual(bound);
      expect([...moved].sort((x, y) => x - y)).toEqual(after.get(`joiner-${t}`));
      for (const load of loads(after)) {
        expect(load).toBeGreaterThanOrEqual(Math.floor(P / 11));
        expect(load).toBeLessThanOrEqual(Math.ceil(P / 11));
      }
    }
  });

  it('a leave moves the leaver partitions and at most one more per survivor quota change', () => {
    for (const t of trials) {
      const names = members(t, 10);
      const before = settle(names, P);
      const leaver = names[3] as string;
      const after = settle(
        names.filter((n) => n !== leaver),
        P,
        ownersOf(before, P),
      );
      const moved = movedPartitions(before, after, P);
      const leaverHad = before.get(leaver) as number[];
      for (const p of leaverHad) expect(moved).toContain(p);
      expect(moved.length).toBeLessThanOrEqual(Math.ceil(P / 9));
    }
  });

  it('a dead owner listed in owners is ignored; no members means no assignment', () => {
    const a = assignPartitions({ members: ['a', 'b'], partitions: 4, owners: ['gone', 'gone', 'a', 'a'] });
    expect(loads(a)).toEqual([2, 2]);
    expect(a.get('a')).toEqual([2, 3]);
    expect(assignPartitions({ members: [], partitions: 4 }).size).toBe(0);
  });

  it('one member owns everything; more members than partitions leaves some with none', () => {
    expect(assignPartitions({ members: ['solo'], partitions: 16 }).get('solo')).toHaveLength(16);
    const many = assignPartitions({ members: members(1, 20), partitions: 16 });
    expect(loads(many).filter((l) => l === 1)).toHaveLength(16);
    expect(loads(many).filter((l) => l === 0)).toHaveLength(4);
  });
});
