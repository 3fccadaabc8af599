import {
  clamp,
  type Gradient2Options,
  type Gradient2State,
  initialGradient2,
  updateGradient2,
} from './gradient2.ts';
import {
  addToWindow,
  emptyWindow,
  type WindowOptions,
  type WindowSample,
  type WindowState,
} from './windowed.ts';

/**
 * The limit on batch transactions in flight per worker. Pure state machine: one sample per finished batch
 * write, time passed in.
 *
 * - `adaptive`: Gradient2 (gradient2.ts) fed once per window (windowed.ts) with the mean commit RTT, plus
 *   AIMD's multiplicative decrease on every drop (Netflix `AIMDLimit`, backoff ratio 0.9): a pool-acquire
 *   timeout, a statement or lock timeout, too many connections, a lost connection (drops.ts). Gradient2
 *   ignores drops by design; without the x0.9 a Postgres that refuses work instead of slowing down would never
 *   lower the limit. Dropped samples carry no RTT into the window (their time is the timeout's, not the work's).
 * - `fixed`: always `maxLimit` (STREAMSINK_CONCURRENCY), the behaviour before adaptive limits.
 */
export type ConcurrencyMode = 'adaptive' | 'fixed';

export interface AdaptiveLimitOptions extends Gradient2Options, WindowOptions {
  mode: ConcurrencyMode;
  /** Multiplier applied on each drop (Netflix AIMD: 0.9). */
  backoffRatio?: number;
}

export interface AdaptiveLimitState {
  gradient: Gradient2State;
  window: WindowState;
}

export function initialLimitState(options: AdaptiveLimitOptions, at: number): AdaptiveLimitState {
  return { gradient: initialGradient2(options), window: emptyWindow(at) };
}

/** The usable limit: whole batches, never below the minimum. */
export function limitOf(state: AdaptiveLimitState, options: AdaptiveLimitOptions): number {
  if (options.mode === 'fixed') return options.maxLimit;
  return Math.max(options.minLimit, Math.floor(state.gradient.estimate));
}

export function onLimitSample(
  state: AdaptiveLimitState,
  sample: WindowSample,
  options: AdaptiveLimitOptions,
): AdaptiveLimitState {
  if (options.mode === 'fixed') return state;
  if (sample.dropped) {
    const estimate = clamp(
      state.gradient.estimate * (options.backoffRatio ?? 0.9),
      options.minLimit,
      options.maxLimit,
    );
    const window: WindowState = {
      ...state.window,
      maxInFlight: Math.max(state.window.maxInFlight, sample.inFlight),
      dropped: true,
    };
    return { gradient: { ...state.gradient, estimate }, window };
  }
  const added = addToWindow(state.window, sample, options);
  if (!added.closed) return { gradient: state.gradient, window: added.window };
  const gradient = updateGradient2(state.gradient, added.closed, options);
  return { gradient, window: added.window };
}
