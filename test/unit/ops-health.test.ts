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
