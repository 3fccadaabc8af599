import { describe, expect, it } from 'vitest';
import { rates, sparkline } from '../../../src/console/throughput.ts';

describe('throughput sparkline', () => {
  it('turns counter samples into per-second rates; a reset counts as 0', () => {
    expect(
      rates([
        { atMs: 0, value: 100 },
        { atMs: 2000, value: 300 },
        { atMs: 3000, value: 300 },
        { atMs: 4000, value: 10 },
      ]),
    ).toEqual([100, 0, 0]);
    expect(rates([{ atMs: 0, value: 1 }])).toEqual([]);
  });

  it('draws a polyline scaled to the largest value, labelled as text', () => {
    const svg = sparkline([0, 5, 10], 'rate <x>', 100, 20).value;
    expect(svg).toContain('points="0.0,19.0 50.0,10.0 100.0,1.0"');
    expect(svg).toContain('aria-label="rate &lt;x&gt;"');
    expect(sparkline([], 'none').value).not.toContain('polyline');
    expect(sparkline([0, 0], 'flat', 10, 10).value).toContain('points="0.0,9.0 10.0,9.0"');
  });
});
