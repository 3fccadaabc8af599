import { describe, expect, it } from 'vitest';
import { decideLiveness, decideReadiness, type HealthSnapshot } from '../../src/lib/ops-server.ts';

const snap = (over: Partial<HealthSnapshot> = {}): HealthSnapshot => ({
  loopTurnedAt: 1_000_000,
  sinkFailing: false,
  shuttingDown: false,
  inFlight: 7,
  ...over,
});

describe('decideLiveness', () => {
  it('is alive while the loop turned within the deadline', () => {
    const v = decideLiveness(snap(), 1_000_000 + 60_000, 60_000);
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ status: 'ok', loopTurnedMsAgo: 60_000, inFlight: 7 });
  });

  it('is stuck when the loop has not turned past the deadline', () => {
    const v = decideLiveness(snap(), 1_000_000 + 60_001, 60_000);
    expect(v.status).toBe(503);
    expect(v.body.status).toBe('stuck');
  });

  it('stays alive through a sink outage, a Redis outage and a shutdown drain, however long', () => {
    expect(decideLiveness(snap({ sinkFailing: true }), 9_000_000, 60_000).status).toBe(200);
    expect(decideLiveness(snap({ shuttingDown: true }), 9_000_000, 60_000).status).toBe(200);
    expect(decideLiveness(snap({ waitingOnRedis: true }), 9_000_000, 60_000).status).toBe(200);
    expect(decideLiveness(snap({ waitingOnRedis: false }), 9_000_000, 60_000).status).toBe(503);
  });
});

describe('decideLiveness: progress', () => {
  const DEADLINE = 300_000;
  // The loop turns (now), but the oldest entry held was taken at t0.
  const t0 = 2_000_000;
  const held = (over: Partial<HealthSnapshot> = {}) =>
    snap({ loopTurnedAt: t0 + DEADLINE + 1, oldestTakenAt: t0, ...over });

  it('fails when an entry has been held past the progress deadline while the loop still turns', () => {
    const v = decideLiveness(held(), t0 + DEADLINE + 1, 60_000, DEADLINE);
    expect(v.status).toBe(503);
    expect(v.body).toMatchObject({ status: 'no_progress', oldestHeldMs: DEADLINE + 1 });
    expect(decideLiveness(held(), t0 + DEADLINE, 60_000, DEADLINE).status).toBe(200);
  });

  it('fails when the sink keeps failing against a Postgres that answers (lock or statement timeouts)', () => {
    expect(decideLiveness(held({ sinkFailing: true }), t0 + DEADLINE + 1, 60_000, DEADLINE).status).toBe(503);
  });

  it('stays alive while Postgres is unreachable (readiness says so), while shutting down, and when idle', () => {
    const now = t0 + 10 * DEADLINE;
    const outage = held({ sinkFailing: true, sinkUnreachable: true, loopTurnedAt: now });
    expect(decideLiveness(outage, now, 60_000, DEADLINE).status).toBe(200);
    expect(decideLiveness(held({ shuttingDown: true }), now, 60_000, DEADLINE).status).toBe(200);
    const idle = snap({ loopTurnedAt: now, inFlight: 0, oldestTakenAt: undefined });
    expect(decideLiveness(idle, now, 60_000, DEADLINE).status).toBe(200);
    // Without a progress deadline (no such check configured) the old rule alone applies.
    expect(decideLiveness(held(), now, 60_000).status).toBe(503); // loop stale: loopTurnedAt long ago
    expect(decideLiveness(held({ loopTurnedAt: now }), now, 60_000).status).toBe(200);
  });
});

describe('decideReadiness', () => {
  it('is ready when every dependency answers', () => {
    const v = decideReadiness(false, { redis: { ok: true }, postgres: { ok: true } });
    expect(v).toEqual({
      status: 200,
      body: { status: 'ready', shuttingDown: false, failing: [], checks: { redis: 'ok', postgres: 'ok' } },
    });
  });

  it('names the failing dependency', () => {
    const v = decideReadiness(false, { redis: { ok: true }, postgres: { ok: false, error: 'ECONNREFUSED' } });
    expect(v.status).toBe(503);
    expect(v.body).toMatchObject({ failing: ['postgres'], checks: { postgres: 'ECONNREFUSED' } });
  });

  it('is not ready while shutting down', () => {
    expect(decideReadiness(true, { redis: { ok: true } }).status).toBe(503);
  });
});
