import { createHash } from 'node:crypto';

/**
 * Which partitions each live worker should own: sticky, capped rendezvous (highest-random-weight) hashing.
 *
 * Quotas: with N live members and P partitions every member gets floor(P/N), and P mod N of them one more
 * (those that already hold the most, then by name), so loads differ by at most one. A member keeps what it
 * already owns up to its quota (its best-scoring partitions first); everything else (unowned, owned by a
 * member no longer live, or over a quota) goes, in falling score order of the (partition, member) pairs, to
 * the best-scoring member with room. A pair's score is SHA-256 of `member \0 partition` and does not depend on
 * who else is live.
 *
 * Stickiness is what bounds movement (Kafka's cooperative-sticky idea): a join moves only the partitions the
 * newcomer's quota needs, taken from members over their new quota; a leave moves only the leaver's partitions
 * plus at most a quota adjustment. Pure and deterministic: workers that see the same members and owners
 * compute the same answer, no coordinator. Views that briefly differ are harmless: leases (lease.ts) decide who
 * actually owns a partition, and the assignment converges once owners settle.
 */
export interface AssignInput {
  /** Live members (duplicates ignored). */
  members: readonly string[];
  partitions: number;
  /** Current owner of each partition (lease holder), or undefined. Owners not live count as none. */
  owners?: ReadonlyArray<string | undefined>;
}

export function assignPartitions(input: AssignInput): Map<string, number[]> {
  const { partitions } = input;
  const live = [...new Set(input.members)].sort();
  const out = new Map<string, number[]>(live.map((m) => [m, []]));
  if (live.length === 0 || partitions < 1) return out;

  const held = new Map<string, number[]>(live.map((m) => [m, []]));
  for (let p = 0; p < partitions; p++) {
    const owner = input.owners?.[p];
    if (owner !== undefined) held.get(owner)?.push(p);
  }
  const base = Math.floor(partitions / live.length);
  const extras = partitions % live.length;
  const byHolding = [...live].sort((a, b) => heldCount(b) - heldCount(a) || (a < b ? -1 : 1));
  const quota = new Map<string, number>(byHolding.map((m, i) => [m, base + (i < extras ? 1 : 0)]));

  const taken = new Array<boolean>(partitions).fill(false);
  for (const member of live) {
    const mine = (held.get(member) as number[])
      .map((p) => ({ p, score: rendezvousScore(member, p) }))
      .sort((a, b) => compareScores(a.score, b.score) || a.p - b.p)
      .slice(0, quota.get(member));
    for (const { p } of mine) {
      taken[p] = true;
      (out.get(member) as number[]).push(p);
    }
  }

  const pairs: Array<{ score: bigint; member: string; partition: number }> = [];
  for (let p = 0; p < partitions; p++) {
    if (taken[p]) continue;
    for (const member of live) pairs.push({ score: rendezvousScore(member, p), member, partition: p });
  }
  pairs.sort((a, b) => compareScores(a.score, b.score) || (a.member < b.member ? -1 : 1));
  for (const { member, partition } of pairs) {
    if (taken[partition]) continue;
    const list = out.get(member) as number[];
    if (list.length >= (quota.get(member) as number)) continue;
    taken[partition] = true;
    list.push(partition);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;

  function heldCount(m: string): number {
    return (held.get(m) as number[]).length;
  }
}

/** Higher score first. */
function compareScores(a: bigint, b: bigint): number {
  return a === b ? 0 : a > b ? -1 : 1;
}

/** The score of one (member, partition) pair: the first 8 bytes of SHA-256 over `member \0 partition`. */
export function rendezvousScore(member: string, partition: number): bigint {
  return createHash('sha256').update(`${member}\0${partition}`).digest().readBigUInt64BE(0);
}

/** Owner of each partition under an assignment. */
export function ownersOf(
  assignment: ReadonlyMap<string, readonly number[]>,
  partitions: number,
): Array<string | undefined> {
  const owners = new Array<string | undefined>(partitions).fill(undefined);
  for (const [m, ps] of assignment) for (const p of ps) owners[p] = m;
  return owners;
}

/** Partitions whose owner differs between two assignments (unassigned in one counts as moved). */
export function movedPartitions(
  before: ReadonlyMap<string, readonly number[]>,
  after: ReadonlyMap<string, readonly number[]>,
  partitions: number,
): number[] {
  const b = ownersOf(before, partitions);
  const c = ownersOf(after, partitions);
  const moved: number[] = [];
  for (let p = 0; p < partitions; p++) if (b[p] !== c[p]) moved.push(p);
  return moved;
}
