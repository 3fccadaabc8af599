/**
 * WindowedLimit's aggregation, from Netflix concurrency-limits (`limit/WindowedLimit.java`). Pure: time is
 * passed in with each sample. Samples are collected into a window; once the window is at least `minWindowMs`
 * old and holds at least `minSamples`, it closes and yields one aggregate for the limit algorithm: the mean
 * RTT, the most in flight seen, and whether any sample was a drop. Fewer, steadier updates: one slow commit
 * among fifty does not move the limit.
 */
export interface WindowOptions {
  /** Netflix: 1000 ms. */
  minWindowMs: number;
  /** Netflix: 10. */
  minSamples: number;
}

export interface WindowState {
  startedAt: number;
  samples: number;
  rttSum: number;
  maxInFlight: number;
  dropped: boolean;
}

export interface WindowSample {
  at: number;
  rtt: number;
  inFlight: number;
  dropped: boolean;
}

export interface WindowAggregate {
  rtt: number;
  inFlight: number;
  dropped: boolean;
}

export function emptyWindow(at: number): WindowState {
  return { startedAt: at, samples: 0, rttSum: 0, maxInFlight: 0, dropped: false };
}

/** Add one sample; `closed` is the aggregate when this sample completed the window (then a new one starts). */
export function addToWindow(
  window: WindowState,
  sample: WindowSample,
  options: WindowOptions,
): { window: WindowState; closed?: WindowAggregate } {
  const next: WindowState = {
    startedAt: window.startedAt,
    samples: window.samples + 1,
    rttSum: window.rttSum + sample.rtt,
    maxInFlight: Math.max(window.maxInFlight, sample.inFlight),
    dropped: window.dropped || sample.dropped,
  };
  if (sample.at - next.startedAt < options.minWindowMs || next.samples < options.minSamples)
    return { window: next };
  return {
    window: emptyWindow(sample.at),
    closed: { rtt: next.rttSum / next.samples, inFlight: next.maxInFlight, dropped: next.dropped },
  };
}
