import type { DemoSnapshot } from './stats.ts';

/** The live view, pure: snapshots in, text out. Plain ANSI, no dependencies. */

export interface ViewContext {
  stream: string;
  group: string;
  workers: Array<{ name: string; pid: number | undefined; metricsPort?: number }>;
  elapsedMs: number;
  rate: number;
  /** The final view, after everything stopped. */
  stopped?: boolean;
}

/** Applied per second over the window of snapshots given (oldest first). */
export function appliedRate(history: readonly DemoSnapshot[]): number {
  const first = history[0];
  const last = history[history.length - 1];
  if (!first || !last || last.atMs <= first.atMs) return 0;
  return ((last.applied - first.applied) * 1000) / (last.atMs - first.atMs);
}

const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/** The block drawn at a terminal, redrawn in place each second. */
export function renderView(s: DemoSnapshot, rate: number, c: ViewContext): string[] {
  const reasons = Object.entries(s.deadLettersByReason)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `${r} ${n}`)
    .join(', ');
  const row = (label: string, value: string | number, note = '') =>
    `  ${label.padEnd(14)}${BOLD}${String(value).padStart(8)}${RESET}${note ? `   ${DIM}${note}${RESET}` : ''}`;
  return [
    `${BOLD}streamsink demo${RESET}  stream ${c.stream}, group ${c.group}, ${c.workers.length} workers, ` +
      `${Math.floor(c.elapsedMs / 1000)}s  ${DIM}${c.stopped ? '(stopped)' : '(Ctrl-C to stop)'}${RESET}`,
    row('published', s.published, `${c.rate}/s by the demo producer`),
    row('applied', s.applied, `${rate.toFixed(1)}/s into Postgres, each event once`),
    row('lag', s.lag ?? '?', 'entries not yet read by the group'),
    row('pending', s.pending, 'read, not yet committed and acknowledged'),
    row('dead letters', s.deadLetters, reasons ? `${reasons} (this run)` : 'this run'),
    `  ${DIM}workers: ${c.workers
      .map((w) => `${w.name} (pid ${w.pid ?? '-'}${w.metricsPort ? `, metrics :${w.metricsPort}` : ''})`)
      .join(', ')}${RESET}`,
  ];
}

/** One line per refresh when the output is not a terminal (a log, CI). */
export function renderLine(s: DemoSnapshot, rate: number, elapsedMs: number): string {
  return (
    `${String(Math.floor(elapsedMs / 1000)).padStart(4)}s  published ${s.published}  applied ${s.applied} ` +
    `(${rate.toFixed(1)}/s)  lag ${s.lag ?? '?'}  pending ${s.pending}  dead letters ${s.deadLetters}`
  );
}

/** Move the cursor up over the previous block and clear it, so the next one draws in its place. */
export function redraw(previousLines: number): string {
  return previousLines > 0 ? `\x1b[${previousLines}F\x1b[J` : '';
}

/** What to do after the demo: the commands, with this run's stream and group. */
export function nextSteps(c: { stream: string; group: string; envNote: string | undefined }): string {
  const s = c.stream;
  return [
    '',
    'Try next (the stream, its dead letters and the tables stay where they are):',
    `  npx streamsink status --stream ${s} --group ${c.group}`,
    `  npx streamsink dlq stats --stream ${s}`,
    `  npx streamsink dlq list --stream ${s} --limit 10`,
    `  npx streamsink dlq show <id from the list> --stream ${s}`,
    '  # The JPY payments were refused (unsupported_currency). Allow JPY in a worker, then put them back:',
    `  STREAMSINK_PAYMENTS_CURRENCIES=EUR,USD,GBP,JPY npx streamsink worker --pipeline payments --stream ${s} --group ${c.group}`,
    `  npx streamsink dlq redrive --stream ${s} --reason unsupported_currency --dry-run   # in another terminal`,
    `  npx streamsink dlq redrive --stream ${s} --reason unsupported_currency`,
    '  # The broken-JSON events (invalid_json) cannot be fixed by a redrive; once understood, delete them:',
    `  npx streamsink dlq purge --stream ${s} --reason invalid_json --yes`,
    '  # What the workers wrote:',
    `  psql "$DATABASE_URL" -c 'SELECT * FROM account_balances ORDER BY account_id, currency'`,
    ...(c.envNote ? [`  (${c.envNote})`] : []),
    '',
  ].join('\n');
}
