/**
 * Gradient2, ported from Netflix concurrency-limits (`limit/Gradient2Limit.java`). Pure: no clock, no timers;
 * the caller hands it one sample at a time (in streamsink, one per window: windowed.ts).
 *
 * It keeps a long exponential average of the round-trip time and compares it with the latest (short) one:
 *
 *   gradient = clamp(tolerance * longRtt / shortRtt, 0.5, 1)
 *   next     = limit * gradient + queueSize(limit)
 *   limit    = limit * (1 - smoothing) + next * smoothing,  clamped to [minLimit, maxLimit]
 *
 * While RTTs stay within `tolerance` of the long average the gradient is 1 and the limit grows by
 * `queueSize * smoothing` per sample; once they rise, it shrinks (by at most half per sample, so one outlier
 * cannot collapse it). It does not grow while the caller uses less than half of it (app-limited), and it
 * ignores drops: those are AIMD's job (adaptive-limit.ts). When latency falls back after a long slow spell,
 * the long average is pulled down by 5% per sample, so recovery does not wait for the average to decay.
 *
 * `queueSize` differs from Netflix's default of 4: that is sized for limits in the hundreds. A worker's limit
 * is a handful of batch transactions (STREAMSINK_CONCURRENCY, default 4), and the limit can only fall while
 * `queueSize < limit * (1 - gradient)`: with 4 it would never go below 8. With 1 it reaches 2 on latency
 * alone, and drops (x0.9) take it to the minimum.
 *
 * Growth differs too, for the same reason: with gradient 1 Netflix grows by `smoothing * queueSize` per sample
 * (0.8 with its defaults); with a queueSize of 1 that would be 0.2 per window, 15 s to climb from 5 back to 8
 * after Postgres recovered. While RTTs are within tolerance the estimate instead grows by `increase` (1 batch)
 * per sample: AIMD's additive increase, which is how the limit finds its way back.
 */
export interface Gradient2Options {
  initialLimit: number;
  minLimit: number;
  maxLimit: number;
  /** How far above the long average RTTs may go before the limit shrinks (Netflix: 1.5). */
  tolerance?: number;
  /** Weight of each new estimate (Netflix: 0.2). */
  smoothing?: number;
  /** Samples in the long average (Netflix: 600). */
  longWindow?: number;
  /** The headroom added to each estimate (Netflix: 4; here 1, see above). */
  queueSize?: (limit: number) => number;
  /** Added per sample while RTTs are within tolerance (gradient 1). Default 1 (see above). */
  increase?: number;
}

export interface Gradient2State {
  /** The estimate, fractional; the usable limit is its floor (at least minLimit). */
  estimate: number;
  longRtt: ExpAverage;
}

/** Netflix's ExpAvgMeasurement: a plain mean over the first `warmup` samples, then an EMA of `window`. */
export interface ExpAverage {
  value: number;
  count: number;
}

const WARMUP = 10;

export function addToAverage(avg: ExpAverage, sample: number, window: number): ExpAverage {
  if (avg.count < WARMUP) {
    const count = avg.count + 1;
    return { value: avg.value + (sample - avg.value) / count, count };
  }
  const factor = 2 / (window + 1);
  return { value: avg.value * (1 - factor) + sample * factor, count: avg.count + 1 };
}

export function initialGradient2(options: Gradient2Options): Gradient2State {
  return {
    estimate: clamp(options.initialLimit, options.minLimit, options.maxLimit),
    longRtt: { value: 0, count: 0 },
  };
}

/** The next state after one RTT sample (`rtt` > 0, any unit) taken while `inFlight` were in flight. */
export function updateGradient2(
  state: Gradient2State,
  sample: { rtt: number; inFlight: number },
  options: Gradient2Options,
): Gradient2State {
  const tolerance = options.tolerance ?? 1.5;
  const smoothing = options.smoothing ?? 0.2;
  const queueSize = (options.queueSize ?? (() => 1))(state.estimate);
  const shortRtt = sample.rtt;
  let longRtt = addToAverage(state.longRtt, shortRtt, options.longWindow ?? 600);
  // Latency fell back after a long slow spell: pull the long average down instead of waiting for it to decay.
  if (longRtt.value / shortRtt > 2) longRtt = { ...longRtt, value: longRtt.value * 0.95 };
  // App-limited: too little in flight to learn anything about the limit.
  if (sample.inFlight < state.estimate / 2) return { estimate: state.estimate, longRtt };
  const gradient = clamp((tolerance * longRtt.value) / shortRtt, 0.5, 1);
  if (gradient >= 1) {
    const grown = state.estimate + (options.increase ?? 1);
    return { estimate: clamp(grown, options.minLimit, options.maxLimit), longRtt };
  }
  const next = state.estimate * gradient + queueSize;
  const smoothed = state.estimate * (1 - smoothing) + next * smoothing;
  return { estimate: clamp(smoothed, options.minLimit, options.maxLimit), longRtt };
}

export function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}
