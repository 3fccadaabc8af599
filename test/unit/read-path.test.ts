import { describe, expect, it } from 'vitest';
import { afterLargeEntry, afterPlainRead, initialReadPath, planRead } from '../../src/consumers/read-path.ts';

const MiB = 1024 * 1024;
const options = { maxPayloadBytes: MiB, cooldownMs: 60_000 };

describe('read path: plain XREADGROUP sized from the sizes seen, the script after a large entry', () => {
  it('before any entry was seen, asks for what fits at the payload limit', () => {
    const plan = planRead(initialReadPath(options), { count: 500, bytes: 32 * MiB, now: 0 });
    expect(plan).toEqual({ path: 'native', count: 32, byteLimit: 32 * MiB });
  });

  it('small entries seen: the whole count, and the byte budget is the cut-off', () => {
    let state = initialReadPath(options);
    for (let i = 0; i < 8; i++) state = afterPlainRead(state, { entries: 500, bytesReceived: 500 * 300 });
    expect(planRead(state, { count: 500, bytes: 32 * MiB, now: 0 })).toEqual({
      path: 'native',
      count: 500,
      byteLimit: 32 * MiB,
    });
  });

  it('asks for at most a quarter of the free budget at the mean size seen, and at least one entry', () => {
    let state = initialReadPath(options);
    for (let i = 0; i < 30; i++) state = afterPlainRead(state, { entries: 10, bytesReceived: 10 * 100_000 });
    const plan = planRead(state, { count: 500, bytes: 4_100_000, now: 0 });
    expect(plan).toMatchObject({ path: 'native', count: 10 });
    expect(planRead(state, { count: 500, bytes: 1000, now: 0 })).toMatchObject({ path: 'native', count: 1 });
  });

  it('larger entries count at once; smaller ones lower the estimate at most 16x per read', () => {
    let state = initialReadPath(options);
    state = afterPlainRead(state, { entries: 100, bytesReceived: 100 * 300 });
    expect(state.meanEntryBytes).toBe(MiB / 4 / 16);
    state = afterPlainRead(state, { entries: 100, bytesReceived: 100 * 300 });
    state = afterPlainRead(state, { entries: 100, bytesReceived: 100 * 300 });
    expect(state.meanEntryBytes).toBe(300);
    state = afterPlainRead(state, { entries: 1, bytesReceived: 50_000 });
    expect(state.meanEntryBytes).toBe(50_000);
  });

  it('an empty read teaches nothing', () => {
    const state = initialReadPath(options);
    expect(afterPlainRead(state, { entries: 0, bytesReceived: 20 })).toBe(state);
  });

  it('after a large entry: the script until the cool-down ends, then plain reads sized for large entries', () => {
    let state = initialReadPath(options);
    for (let i = 0; i < 8; i++) state = afterPlainRead(state, { entries: 500, bytesReceived: 500 * 300 });
    state = afterLargeEntry(state, { now: 1000 }, options);
    expect(planRead(state, { count: 500, bytes: 32 * MiB, now: 1000 })).toEqual({ path: 'script' });
    expect(planRead(state, { count: 500, bytes: 32 * MiB, now: 60_999 })).toEqual({ path: 'script' });
    expect(planRead(state, { count: 500, bytes: 32 * MiB, now: 61_000 })).toMatchObject({
      path: 'native',
      count: 32,
    });
  });
});
