import type { RedisClient as Redis } from '../lib/redis/client.ts';
import { loadLuaScript } from '../lib/redis/script-loader.ts';
import { type GroupFloor, parseTrimReply, pinningGroup } from './trim-report.ts';

/**
 * Safe trimming of one stream key (docs/retention.md#trimming): remove only entries that every consumer group
 * has read and acknowledged, and that are older than the replay window. Works on any single stream key, so a
 * partitioned stream is trimmed by calling it once per partition key.
 *
 * Why XTRIM MINID with an exact threshold, applied in bounded steps: the threshold is what the groups allow,
 * and `~` alone would leave up to a node (100 entries by default) of acknowledged entries behind on every
 * run, so `--keep 0s` after a full catch-up would not empty the stream and reports would not add up. The bulk
 * goes in whole-node `~ LIMIT` passes (cheap, and one call never blocks Redis for long), then one exact pass
 * removes the remainder below the threshold (less than a node). Neither ever removes an entry at or above the
 * threshold, so precision costs nothing in safety.
 */

const TRIM = loadLuaScript(new URL('./stream-trim.lua', import.meta.url));

/**
 * Entries per call, so each call is one short atomic step: the whole-node pass frees nodes cheaply; counting
 * walks entries one by one, so a dry run takes smaller steps.
 */
const STEP_LIMIT = 10_000;
const DRY_RUN_STEP = 2000;
/** A dry run counts at most this many entries (reported as capped beyond it). */
const DRY_RUN_COUNT_CAP = 1_000_000;

export interface TrimOptions {
  /** Replay window: entries younger than this (by Redis' clock) stay, acknowledged or not. */
  keepMs: number;
  /** Count what would go, change nothing. */
  dryRun?: boolean;
  /** Stop between steps when aborted; what was trimmed stays trimmed. */
  signal?: AbortSignal;
}

export type TrimResult =
  | { key: string; status: 'no_stream' | 'no_groups'; dryRun: boolean; removed: 0 }
  | {
      key: string;
      status: 'ok';
      dryRun: boolean;
      /** Entries removed (dry run: that would be removed). */
      removed: number;
      /** Dry run: counting stopped at the cap, at least `removed` would go. */
      countCapped: boolean;
      /** Entries below this id were (would be) removed: min(every group's floor, now - keep). */
      threshold: string;
      firstId: string | null;
      lastId: string | null;
      groups: GroupFloor[];
      /** The group whose floor stopped trimming (rather than the replay window), if any. */
      pinnedBy: string | undefined;
    };

/**
 * Trim one stream key up to what every consumer group has read and acknowledged and no newer than `keepMs`.
 * No groups means no trimming. Safe to run concurrently from many processes: each step is one atomic script.
 * @example
 * const r = await trimStreamKey(redis, streamKeys('streamsink', 'payments').stream, { keepMs: 86_400_000 });
 */
export async function trimStreamKey(redis: Redis, key: string, options: TrimOptions): Promise<TrimResult> {
  const dryRun = options.dryRun ?? false;
  let removed = 0;
  let from = '-';
  for (;;) {
    const reply = parseTrimReply(
      await TRIM.run(
        redis,
        [key],
        [options.keepMs, dryRun ? 1 : 0, dryRun ? DRY_RUN_STEP : STEP_LIMIT, from],
      ),
    );
    if (reply.status !== 'ok') return { key, status: reply.status, dryRun, removed: 0 };
    removed += reply.removed;
    if (reply.cursor !== '') from = `(${reply.cursor}`;
    const capped = dryRun && reply.more && removed >= DRY_RUN_COUNT_CAP;
    if (!reply.more || capped || options.signal?.aborted) {
      return {
        key,
        status: 'ok',
        dryRun,
        removed,
        countCapped: capped,
        threshold: reply.threshold,
        firstId: reply.firstId,
        lastId: reply.lastId,
        groups: reply.groups,
        pinnedBy: pinningGroup(reply.groups, reply.threshold),
      };
    }
  }
}
