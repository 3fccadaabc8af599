import { describe, expect, it } from 'vitest';
import { demoEvent, JPY_EVERY, MALFORMED_EVERY } from '../../scripts/demo/events.ts';
import { parseDemoArgs } from '../../scripts/demo/options.ts';
import { unreachableHelp } from '../../scripts/demo/preflight.ts';
import type { DemoSnapshot } from '../../scripts/demo/stats.ts';
import { appliedRate, nextSteps, renderLine } from '../../scripts/demo/view.ts';
import { decodeEntry } from '../../src/lib/envelope.ts';

const at = new Date('2026-12-01T10:00:00Z');

describe('demo traffic', () => {
  it('is valid payments events, with the announced share of JPY payments and broken entries', () => {
    const events = Array.from({ length: 3 * JPY_EVERY * MALFORMED_EVERY }, (_, n) => demoEvent(n, 'r1', at));
    const malformed = events.filter((e) => e.kind === 'malformed');
    expect(malformed).toHaveLength(3 * JPY_EVERY);
    for (const m of malformed) {
      if (m.kind !== 'malformed') continue;
      const decoded = decodeEntry(m.fields);
      expect(decoded.ok ? 'ok' : decoded.reason).toBe('invalid_json');
    }
    const good = events.flatMap((e) => (e.kind === 'event' ? [e.input] : []));
    const jpy = good.filter((e) => e.data.currency === 'JPY');
    expect(jpy.length).toBeGreaterThan(0);
    expect(jpy.length / good.length).toBeCloseTo(1 / JPY_EVERY, 2);
    expect(new Set(good.map((e) => e.id)).size).toBe(good.length);
    expect(good.every((e) => e.key === e.data.paymentId)).toBe(true);
  });
});

describe('demo options', () => {
  it('has defaults and checks every value at once', () => {
    expect(parseDemoArgs([])).toMatchObject({ durationS: undefined, rate: 20, stream: 'demo-payments' });
    expect(parseDemoArgs(['--duration', '5', '--rate', '100']).durationS).toBe(5);
    expect(() => parseDemoArgs(['--duration', '0', '--rate', 'x', '--stream', 'a b'])).toThrow(
      /--duration.*\n--rate.*\n--stream/s,
    );
  });
});

describe('demo view and messages', () => {
  const snap = (atMs: number, applied: number): DemoSnapshot => ({
    atMs,
    published: applied + 3,
    applied,
    lag: 1,
    pending: 2,
    deadLetters: 4,
    deadLettersByReason: { unsupported_currency: 3, invalid_json: 1 },
  });
  it('computes the applied rate over the window', () => {
    expect(appliedRate([snap(0, 0), snap(2000, 50)])).toBe(25);
    expect(appliedRate([snap(0, 0)])).toBe(0);
    expect(renderLine(snap(3000, 10), 5, 3000)).toBe(
      '   3s  published 13  applied 10 (5.0/s)  lag 1  pending 2  dead letters 4',
    );
  });
  it('names the demo stream and group in what to try next', () => {
    const text = nextSteps({ stream: 's1', group: 'g1', envNote: undefined });
    expect(text).toContain('npx streamsink status --stream s1 --group g1');
    expect(text).toContain('npx streamsink dlq redrive --stream s1 --reason unsupported_currency');
  });
  it('says how to start the servers, with compose where there is a compose file', () => {
    const input = {
      redis: { url: 'redis://127.0.0.1:6379', error: 'ECONNREFUSED' },
      postgres: [{ url: 'postgres://postgres:secret@127.0.0.1:5432/postgres', error: 'ECONNREFUSED' }],
      redisUrlSet: false,
      databaseUrlSet: false,
    };
    const withCompose = unreachableHelp({ ...input, composeFile: true });
    expect(withCompose).toContain('docker compose up -d --wait redis postgres');
    expect(withCompose).not.toContain('secret');
    expect(unreachableHelp({ ...input, composeFile: false })).not.toContain('docker compose');
  });
});
