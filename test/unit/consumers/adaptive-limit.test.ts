import { describe, expect, it } from 'vitest';
import {
  type AdaptiveLimitOptions,
  type AdaptiveLimitState,
  initialLimitState,
  limitOf,
  onLimitSample,
} from '../../../src/consumers/limits/adaptive-limit.ts';
import { isDrop, isPostgresOutage } from '../../../src/consumers/limits/drops.ts';
import { initialGradient2, updateGradient2 } from '../../../src/consumers/limits/gradient2.ts';
import { addToWindow, emptyWindow } from '../../../src/consumers/limits/windowed.ts';
import { PoisonMessageError, TransientError } from '../../../src/lib/errors.ts';

const base: AdaptiveLimitOptions = {
  mode: 'adaptive',
  initialLimit: 8,
  minLimit: 1,
  maxLimit: 8,
  minWindowMs: 1000,
  minSamples: 10,
};

/** Feed `count` samples of `rtt`, `perSecond` of them a second, all at full load; returns the state. */
function feed(
  state: AdaptiveLimitState,
  options: AdaptiveLimitOptions,
  from: number,
  seconds: number,
  rtt: number,
  perSecond = 20,
): { state: AdaptiveLimitState; at: number; limits: number[] } {
  let s = state;
  let at = from;
  const limits: number[] = [];
  for (let i = 0; i < seconds * perSecond; i++) {
    at += 1000 / perSecond;
    s = onLimitSample(s, { at, rtt, inFlight: limitOf(s, options), dropped: false }, options);
    limits.push(limitOf(s, options));
  }
  return { state: s, at, limits };
}

describe('Gradient2 (pure, synthetic RTTs)', () => {
  const opts = { initialLimit: 8, minLimit: 1, maxLimit: 8 };

  it('stays at the maximum while RTTs are steady', () => {
    let s = initialGradient2(opts);
    for (let i = 0; i < 200; i++) s = updateGradient2(s, { rtt: 10 + (i % 3), inFlight: 8 }, opts);
    expect(s.estimate).toBe(8);
  });

  it('shrinks when RTTs rise well above the long average, by at most half per sample', () => {
    let s = initialGradient2(opts);
    for (let i = 0; i < 50; i++) s = updateGradient2(s, { rtt: 10, inFlight: 8 }, opts);
    const before = s.estimate;
    s = updateGradient2(s, { rtt: 1000, inFlight: 8 }, opts);
    expect(s.estimate).toBeLessThan(before);
    expect(s.estimate).toBeGreaterThanOrEqual(before * 0.5);
  });

  it('does not move while app-limited (less than half the limit in flight)', () => {
    let s = initialGradient2(opts);
    for (let i = 0; i < 20; i++) s = updateGradient2(s, { rtt: 10, inFlight: 8 }, opts);
    const before = s.estimate;
    for (let i = 0; i < 20; i++) s = updateGradient2(s, { rtt: 500, inFlight: 2 }, opts);
    expect(s.estimate).toBe(before);
  });

  it('pulls the long average down once latency falls back (long/short > 2)', () => {
    let s = initialGradient2(opts);
    for (let i = 0; i < 100; i++) s = updateGradient2(s, { rtt: 100, inFlight: 8 }, opts);
    const long = s.longRtt.value;
    s = updateGradient2(s, { rtt: 10, inFlight: 8 }, opts);
    expect(s.longRtt.value).toBeLessThan(long * 0.96);
  });
});

describe('windowed aggregation', () => {
  it('closes a window only when it is old enough and holds enough samples; yields mean RTT, max in flight', () => {
    const o = { minWindowMs: 1000, minSamples: 3 };
    let w = emptyWindow(0);
    let r = addToWindow(w, { at: 100, rtt: 10, inFlight: 2, dropped: false }, o);
    expect(r.closed).toBeUndefined();
    w = r.window;
    r = addToWindow(w, { at: 200, rtt: 20, inFlight: 4, dropped: false }, o);
    w = r.window;
    r = addToWindow(w, { at: 300, rtt: 30, inFlight: 3, dropped: false }, o);
    expect(r.closed).toBeUndefined(); // three samples but only 300 ms old
    w = r.window;
    r = addToWindow(w, { at: 1000, rtt: 40, inFlight: 1, dropped: false }, o);
    expect(r.closed).toEqual({ rtt: 25, inFlight: 4, dropped: false });
    expect(r.window.samples).toBe(0);
    expect(r.window.startedAt).toBe(1000);
  });
});

describe('adaptive limit: windowed Gradient2 plus AIMD on drops', () => {
  it('healthy: stays at the maximum (no slower than fixed)', () => {
    const { limits } = feed(initialLimitState(base, 0), base, 0, 60, 5);
    expect(Math.min(...limits)).toBe(base.maxLimit);
  });

  it('slowed: the limit falls; recovered: it climbs back to the maximum by itself', () => {
    const healthy = feed(initialLimitState(base, 0), base, 0, 30, 5);
    const slowed = feed(healthy.state, base, healthy.at, 20, 60);
    expect(Math.min(...slowed.limits)).toBeLessThan(base.maxLimit);
    const low = limitOf(slowed.state, base);
    expect(low).toBeLessThan(base.maxLimit);
    // Additive increase: one batch per window once commits are fast again, not 0.2 (Netflix's smoothing x 1).
    const recovered = feed(slowed.state, base, slowed.at, base.maxLimit - low + 2, 5);
    expect(recovered.limits.at(-1)).toBe(base.maxLimit);
    // Once latency is back, the limit only goes up.
    for (let i = 1; i < recovered.limits.length; i++)
      expect(recovered.limits[i]).toBeGreaterThanOrEqual(recovered.limits[i - 1] as number);
  });

  it('each drop multiplies the limit by 0.9 at once, down to the minimum and never below', () => {
    let s = initialLimitState(base, 0);
    const seen: number[] = [];
    for (let i = 0; i < 40; i++) {
      s = onLimitSample(s, { at: i, rtt: 5, inFlight: 8, dropped: true }, base);
      seen.push(s.gradient.estimate);
    }
    expect(seen[0]).toBeCloseTo(8 * 0.9);
    expect(seen[1]).toBeCloseTo(8 * 0.81);
    expect(limitOf(s, base)).toBe(1);
    expect(Math.min(...seen)).toBe(1);
  });

  it('fixed mode never moves', () => {
    const fixed: AdaptiveLimitOptions = { ...base, mode: 'fixed' };
    let s = initialLimitState(fixed, 0);
    for (let i = 0; i < 30; i++)
      s = onLimitSample(s, { at: i * 100, rtt: 1000, inFlight: 8, dropped: true }, fixed);
    expect(limitOf(s, fixed)).toBe(8);
  });
});

describe('isDrop', () => {
  const wrap = (cause: unknown) => Object.assign(new Error('postgres: x'), { code: 'transient', cause });
  it.each([
    ['57014 statement_timeout', { code: '57014' }],
    ['55P03 lock_timeout', { code: '55P03' }],
    ['53300 too many connections', { code: '53300' }],
    ['08006 connection failure', { code: '08006' }],
    ['pool acquire timeout', new Error('timeout exceeded when trying to connect')],
    ['connection refused', { code: 'ECONNREFUSED' }],
  ])('%s is a drop, also wrapped', (_name, error) => {
    expect(isDrop(error)).toBe(true);
    expect(isDrop(wrap(error))).toBe(true);
  });
  it.each([
    ['40001 serialization failure', { code: '40001' }],
    ['40P01 deadlock', { code: '40P01' }],
    ['23505 unique violation', { code: '23505' }],
    ['42P01 missing table', { code: '42P01' }],
    ['plain error', new Error('boom')],
  ])('%s is not', (_name, error) => {
    expect(isDrop(wrap(error))).toBe(false);
  });
});

describe('isPostgresOutage (what counts against the Postgres breaker)', () => {
  const transient = (cause: unknown) => new TransientError('postgres: x', { cause });
  it.each([
    ['cannot connect: database not accepting connections (55000)', transient({ code: '55000' })],
    ['connection refused', transient({ code: 'ECONNREFUSED' })],
    ['admin shutdown 57P01', transient({ code: '57P01' })],
    ['permission denied (systemic) 42501', transient({ code: '42501' })],
  ])('%s counts', (_name, error) => {
    expect(isPostgresOutage(error)).toBe(true);
  });
  it.each([
    ['deadlock 40P01', transient({ code: '40P01' })],
    ['serialization failure 40001', transient({ code: '40001' })],
    ['lock timeout 55P03', transient({ code: '55P03' })],
    ['statement timeout 57014', transient({ code: '57014' })],
    ['a poison event', new PoisonMessageError('data_error', 'bad')],
    ['an untyped error', new Error('boom')],
  ])('%s does not', (_name, error) => {
    expect(isPostgresOutage(error)).toBe(false);
  });
});
