import { describe, expect, it } from 'vitest';
import { type Measured, roundRatios, throughputReport } from '../../bench/lib/throughput-report.ts';

const run = (variant: string, rate: number): Measured => ({
  variant,
  events: 1000,
  seconds: 1000 / rate,
  cpuMicros: 1000,
  pgCpuMicros: undefined,
});

describe('roundRatios', () => {
  const perRound = new Map<string, Measured[]>([
    ['reference', [run('r', 100), run('r', 200), run('r', 50)]],
    ['streamsink-1', [run('s1', 90), run('s1', 150), run('s1', 60)]],
    ['streamsink-2', [run('s2', 95), run('s2', 140)]],
  ]);

  it('pairs the i-th run of each variant, taking the best of several', () => {
    expect(roundRatios(perRound, ['streamsink-1', 'streamsink-2'], 'reference')).toEqual([0.95, 0.75, 1.2]);
    expect(roundRatios(perRound, ['streamsink-2'], 'streamsink-1')).toEqual([95 / 90, 140 / 150]);
  });

  it('is empty when a side never ran', () => {
    expect(roundRatios(perRound, ['payments-decide'], 'streamsink-1')).toEqual([]);
    expect(roundRatios(perRound, ['streamsink-1'], 'bullmq')).toEqual([]);
  });
});

describe('throughputReport', () => {
  it('prints each target from the medians, and the per-round ratios beside it when rounds repeated', () => {
    const perRound = new Map<string, Measured[]>([
      ['reference', [run('reference', 100), run('reference', 200)]],
      ['streamsink-1', [run('streamsink x1', 90), run('streamsink x1', 150)]],
    ]);
    const results = new Map<string, Measured>([
      ['reference', run('reference', 100)],
      ['streamsink-1', run('streamsink x1', 90)],
    ]);
    const report = throughputReport(1000, 2, results, perRound);
    expect(report.text).toContain(
      'event-log vs batched reference: 0.90x (target >= 0.9x); by round 0.90x 0.75x',
    );
    expect((report.json as { byRound: unknown }).byRound).toEqual({ 'event-log vs reference': [0.9, 0.75] });
  });

  it('prints no per-round ratios for a single round', () => {
    const results = new Map<string, Measured>([
      ['reference', run('reference', 100)],
      ['streamsink-1', run('streamsink x1', 90)],
    ]);
    const report = throughputReport(1000, 1, results, new Map([...results].map(([k, v]) => [k, [v]])));
    expect(report.text).toContain('event-log vs batched reference: 0.90x (target >= 0.9x)\n');
  });
});
