import { compareEntryIds, entryIdMs } from '../lib/redis/stream-ids.ts';

/**
 * Reading the trim script's reply (stream-trim.lua), and what it means for the groups: which group holds
 * the floor, and how old the oldest entry is that each group still needs. Pure, no I/O.
 */

export interface GroupFloor {
  group: string;
  /** Oldest pending id, or the id after the last-delivered id when nothing is pending. */
  floor: string;
  /**
   * Age in ms of the oldest entry the group still needs (pending or not yet delivered); 0 when it has read
   * and acknowledged everything in the stream. A group that never reads has the stream's first entry here.
   */
  neededAgeMs: number;
}

export type TrimReply =
  | { status: 'no_stream' }
  | { status: 'no_groups'; nowMs: number }
  | {
      status: 'ok';
      nowMs: number;
      threshold: string;
      removed: number;
      more: boolean;
      /** Dry run: the last entry id counted ('' when none), where the next call counts on from. */
      cursor: string;
      firstId: string | null;
      lastId: string | null;
      groups: GroupFloor[];
    };

/** Parse the flat array stream-trim.lua returns. Throws on a shape it does not know (a script/code mismatch). */
export function parseTrimReply(reply: unknown): TrimReply {
  if (!Array.isArray(reply) || reply.length === 0) throw new TypeError('trim script: empty reply');
  const status = String(reply[0]);
  if (status === 'no_stream') return { status };
  if (status === 'no_groups') return { status, nowMs: Number(reply[1]) };
  if (status !== 'ok' || reply.length < 9) throw new TypeError(`trim script: unexpected reply ${status}`);
  const nowMs = Number(reply[1]);
  const firstId = String(reply[6]) || null;
  const lastId = String(reply[7]) || null;
  const n = Number(reply[8]);
  const groups: GroupFloor[] = [];
  for (let i = 0; i < n; i++) {
    const group = String(reply[9 + 2 * i]);
    const floor = String(reply[10 + 2 * i]);
    groups.push({ group, floor, neededAgeMs: neededAgeMs(floor, firstId, lastId, nowMs) });
  }
  return {
    status,
    nowMs,
    threshold: String(reply[2]),
    removed: Number(reply[3]),
    more: Number(reply[4]) === 1,
    cursor: String(reply[5]),
    firstId,
    lastId,
    groups,
  };
}

/**
 * How old (ms) the oldest entry is that a group with this floor still needs: the first entry at or after the
 * floor. 0 when the stream is empty or the floor is past its last entry (everything read and acknowledged).
 */
export function neededAgeMs(
  floor: string,
  firstId: string | null,
  lastId: string | null,
  nowMs: number,
): number {
  if (firstId === null || lastId === null || compareEntryIds(floor, lastId) > 0) return 0;
  const oldest = compareEntryIds(floor, firstId) > 0 ? floor : firstId;
  return Math.max(0, nowMs - entryIdMs(oldest));
}

/**
 * The group that holds the trim floor (lowest floor; the first such in XINFO order), when its floor is what
 * stops trimming, not the replay window: i.e. the threshold is its floor. Undefined when the window decides
 * or there are no groups.
 */
export function pinningGroup(groups: readonly GroupFloor[], threshold: string): string | undefined {
  let lowest: GroupFloor | undefined;
  for (const g of groups) if (!lowest || compareEntryIds(g.floor, lowest.floor) < 0) lowest = g;
  return lowest && lowest.floor === threshold ? lowest.group : undefined;
}
