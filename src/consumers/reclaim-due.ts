/**
 * Why a reclaim round runs: its interval passed, the last round ended on a suspect that has now finished, or
 * the last round stopped with more of the pending list to page through (the worker was full, or the round
 * reached its page limit).
 */
export type ReclaimTrigger = 'interval' | 'suspect' | 'resume';

export interface ReclaimClock {
  now: number;
  /** When the last round started (the worker's start before the first). */
  lastRoundAt: number;
  claimIntervalMs: number;
  /** The sink is failing: claimed entries could not be worked on. */
  sinkFailing: boolean;
  /** Suspects wait or run in quarantine (quarantine.ts): nothing is claimed beside them. */
  quarantined: boolean;
  /** The last round's last page claimed a suspect (one comes alone in its page): more may be idle behind it. */
  lastRoundClaimedSuspect: boolean;
  /** The last round stopped before the end of the pending list (full, or its page limit): resume it. */
  lastRoundUnfinished: boolean;
}

/**
 * Whether a reclaim round is due now, and why; undefined when not. Pure.
 *
 * A suspect is claimed alone and stops its round (it must run with nothing else in flight), so a backlog of
 * them, the batch-mates of a process that crash-looped, would take one claim interval each: 2,000 of them at
 * the default 15 s are over eight hours. Once the quarantine has emptied, the next round runs at once instead,
 * and so on until a round ends on anything but a suspect; then the interval applies again, so a round that
 * claims nothing (or fails) never repeats at once.
 */
export function reclaimDue(clock: ReclaimClock): ReclaimTrigger | undefined {
  if (clock.sinkFailing || clock.quarantined) return undefined;
  if (clock.lastRoundClaimedSuspect) return 'suspect';
  // Idle entries of a crashed consumer are older than anything new: a round that had to stop while more of
  // them were left goes on from where it stopped (the read loop runs it before reading, as room frees up)
  // instead of leaving them a claim interval each time the worker is busy.
  if (clock.lastRoundUnfinished) return 'resume';
  return clock.now - clock.lastRoundAt >= clock.claimIntervalMs ? 'interval' : undefined;
}
