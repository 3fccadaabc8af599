/**
 * Durations as operators write them on the command line and in settings: a whole number and one unit,
 * `500ms`, `90s`, `30m`, `24h`, `7d` (`0s` is zero). Pure, no I/O.
 */

const DURATION = /^(\d{1,15})(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration such as `24h`, or undefined when `text` is not one (or too large). */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** What {@link parseDuration} accepts, for error messages. */
export const DURATION_FORMAT =
  'a duration: a whole number and a unit (ms, s, m, h, d), e.g. 0s, 90m, 24h, 7d';

/** A duration for humans: the largest unit that divides it (`86400000` -> `1d`, `5400000` -> `90m`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms !== 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return ms === 0 ? '0s' : `${ms}ms`;
}

/** A rough age for humans: `45s`, `90m`, `36h`, `12d` (rounded down, at most two units' worth of detail). */
export function formatAge(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
