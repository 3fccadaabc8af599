import { describe, expect, it } from 'vitest';
import { type ReclaimClock, reclaimDue } from '../../../src/consumers/reclaim-due.ts';

const clock = (over: Partial<ReclaimClock> = {}): ReclaimClock => ({
  now: 10_000,
  lastRoundAt: 10_000,
  claimIntervalMs: 15_000,
  sinkFailing: false,
  quarantined: false,
  lastRoundClaimedSuspect: false,
  lastRoundUnfinished: false,
  ...over,
});

describe('reclaimDue', () => {
  it('is due once the claim interval has passed since the last round', () => {
    expect(reclaimDue(clock({ now: 24_999 }))).toBeUndefined();
    expect(reclaimDue(clock({ now: 25_000 }))).toBe('interval');
  });

  it('is due at once after a round that ended on a suspect, once the quarantine has emptied', () => {
    expect(reclaimDue(clock({ lastRoundClaimedSuspect: true }))).toBe('suspect');
    expect(reclaimDue(clock({ lastRoundClaimedSuspect: true, quarantined: true }))).toBeUndefined();
    expect(reclaimDue(clock({ lastRoundClaimedSuspect: true, now: 90_000 }))).toBe('suspect');
  });

  it('is due at once after a round that stopped with more of the pending list left', () => {
    expect(reclaimDue(clock({ lastRoundUnfinished: true }))).toBe('resume');
    expect(reclaimDue(clock({ lastRoundUnfinished: true, quarantined: true }))).toBeUndefined();
    expect(reclaimDue(clock({ lastRoundUnfinished: true, sinkFailing: true }))).toBeUndefined();
    // A suspect's own way back comes first: it must run alone before anything else is claimed.
    expect(reclaimDue(clock({ lastRoundUnfinished: true, lastRoundClaimedSuspect: true }))).toBe('suspect');
  });

  it('is never due while suspects run or the sink fails, whatever the interval', () => {
    expect(reclaimDue(clock({ now: 90_000, quarantined: true }))).toBeUndefined();
    expect(reclaimDue(clock({ now: 90_000, sinkFailing: true }))).toBeUndefined();
    expect(reclaimDue(clock({ lastRoundClaimedSuspect: true, sinkFailing: true }))).toBeUndefined();
  });
});
