/** Why a reclaim round runs: its interval passed, or the last round ended on a suspect that has now finished. */
export type ReclaimTrigger = 'interval' | 'suspect';

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
  return clock.now - clock.lastRoundAt >= clock.claimIntervalMs ? 'interval' : undefined;
}
