import { parseArgs } from 'node:util';

/** Parameters of a chaos run, from flags first, then CHAOS_* variables, then the defaults. */
export interface ChaosOptions {
  /** Good payment events to publish (distinct ids). */
  events: number;
  /** Seconds of fault injection; the producer spreads its publishing over most of it. */
  durationS: number;
  workers: number;
  seed: number;
  /** Share of poison entries, relative to good events. */
  poisonRate: number;
  /** Share of good events published a second time. */
  duplicateRate: number;
  /** Pause between faults, in ms (uniform in [min, max]). */
  faultGapMs: [number, number];
  /** Give up waiting for the group to drain after this long. */
  drainTimeoutS: number;
  /** Fault kinds to leave out (comma-separated), e.g. to bisect a failure. */
  skipFaults: string[];
  /**
   * Redis persistence: `always` (default; AOF appendfsync always), `everysec`, or `off` (no persistence: a
   * Redis restart loses the stream, and the run is expected to fail; for the durability note).
   */
  redisAof: 'always' | 'everysec' | 'off';
  /** Keep the servers' directories and worker logs for a post-mortem. */
  keep: boolean;
}

const HELP = `Usage: npm run chaos -- [--events N] [--duration S] [--workers N] [--seed N] [--poison R]
                      [--duplicates R] [--fault-gap MIN-MAX] [--drain-timeout S] [--skip-faults a,b] [--keep]
                      [--redis-aof always|everysec|off]

Variables CHAOS_EVENTS, CHAOS_DURATION_S, CHAOS_WORKERS, CHAOS_SEED, ... set the same.
`;

export function parseChaosOptions(argv: string[], env: NodeJS.ProcessEnv): ChaosOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string' },
      duration: { type: 'string' },
      workers: { type: 'string' },
      seed: { type: 'string' },
      poison: { type: 'string' },
      duplicates: { type: 'string' },
      'fault-gap': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'skip-faults': { type: 'string' },
      keep: { type: 'boolean' },
      'redis-aof': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const num = (flag: string | undefined, variable: string, fallback: number, min: number, max: number) => {
    const text = flag ?? env[variable];
    if (text === undefined || text === '') return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new RangeError(`${variable} / flag: expected a number in [${min}, ${max}], got ${text}`);
    return n;
  };
  const gapText = values['fault-gap'] ?? env.CHAOS_FAULT_GAP_MS ?? '1500-5000';
  const gap = gapText.split('-').map(Number);
  if (
    gap.length !== 2 ||
    gap.some((g) => !Number.isFinite(g) || g < 0) ||
    (gap[0] as number) > (gap[1] as number)
  )
    throw new RangeError(`fault gap: expected MIN-MAX in ms, got ${gapText}`);
  return {
    events: Math.floor(num(values.events, 'CHAOS_EVENTS', 200_000, 100, 10_000_000)),
    durationS: num(values.duration, 'CHAOS_DURATION_S', 240, 5, 86_400),
    workers: Math.floor(num(values.workers, 'CHAOS_WORKERS', 4, 1, 16)),
    seed: Math.floor(num(values.seed, 'CHAOS_SEED', Date.now() % 1_000_000, 0, 2 ** 31)),
    poisonRate: num(values.poison, 'CHAOS_POISON_RATE', 0.005, 0, 0.5),
    duplicateRate: num(values.duplicates, 'CHAOS_DUPLICATE_RATE', 0.02, 0, 1),
    faultGapMs: [gap[0] as number, gap[1] as number],
    drainTimeoutS: num(values['drain-timeout'], 'CHAOS_DRAIN_TIMEOUT_S', 600, 10, 86_400),
    skipFaults: (values['skip-faults'] ?? env.CHAOS_SKIP_FAULTS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    keep: values.keep ?? env.CHAOS_KEEP === 'true',
    redisAof: parseAof(values['redis-aof'] ?? env.CHAOS_REDIS_AOF ?? 'always'),
  };
}

export const CHAOS_HELP = HELP;

function parseAof(text: string): ChaosOptions['redisAof'] {
  if (text === 'always' || text === 'everysec' || text === 'off') return text;
  throw new RangeError(`redis-aof: expected always, everysec or off, got ${text}`);
}
