import type { WorkerMetrics } from '../lib/metrics.ts';

/**
 * Sets `streamsink_dependency_up{dependency}` every `intervalMs` from the same checks `/readyz` runs, so an
 * alert can page on "Postgres has been unusable for N minutes" without waiting for a backlog to build up:
 * a Postgres outage on a quiet stream moves no lag and no error counter much, yet every event published
 * meanwhile waits. Postgres also counts as down while the worker's own batches fail (`sinkFailing`): a
 * `SELECT 1` can succeed while every write is refused (permission, missing table, disk full).
 */
export type DependencyCheck = () => Promise<unknown>;

export interface DependencyMonitorOptions {
  checks: Partial<Record<'redis' | 'postgres', DependencyCheck>>;
  /** The worker's sink state: true while batches fail and reading is paused. */
  sinkFailing: () => boolean;
  metrics: Pick<WorkerMetrics, 'dependencyUp'>;
  labels: { stream: string; group: string };
  intervalMs: number;
  /** A check slower than this counts as down (as for /readyz). */
  timeoutMs: number;
}

export interface DependencyMonitor {
  /** Run every check once now; resolves when the gauges are set. */
  checkNow(): Promise<void>;
  /** Stop the timer. Safe to call twice. */
  close(): void;
}

export function startDependencyMonitor(options: DependencyMonitorOptions): DependencyMonitor {
  let running: Promise<void> | undefined;
  // A check still waiting (a PING in ioredis' offline queue during an outage) is awaited again rather than
  // sending one more every interval.
  const attempts = new Map<string, Promise<boolean>>();
  const attempt = (dependency: string, check: DependencyCheck): Promise<boolean> => {
    let p = attempts.get(dependency);
    if (!p) {
      p = check().then(
        () => true,
        () => false,
      );
      attempts.set(dependency, p);
      void p.finally(() => attempts.delete(dependency));
    }
    return p;
  };

  const checkOnce = async (): Promise<void> => {
    const entries = Object.entries(options.checks) as Array<[string, DependencyCheck]>;
    await Promise.all(
      entries.map(async ([dependency, check]) => {
        const answered = await answersWithin(attempt(dependency, check), options.timeoutMs);
        const up = dependency === 'postgres' ? answered && !options.sinkFailing() : answered;
        options.metrics.dependencyUp.set({ ...options.labels, dependency }, up ? 1 : 0);
      }),
    );
  };

  // One round at a time: a check hanging on a dead connection must not stack up one more per tick.
  const checkNow = (): Promise<void> => {
    running ??= checkOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => void checkNow(), options.intervalMs);
  timer.unref();
  void checkNow();
  return {
    checkNow,
    close() {
      clearInterval(timer);
    },
  };
}

async function answersWithin(answer: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
