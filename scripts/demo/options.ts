import { parseArgs } from 'node:util';

/** `npm run demo -- [options]`: parsed and checked here, pure. */
export interface DemoOptions {
  /** Stop by itself after this many seconds (non-interactive runs); until Ctrl-C when unset. */
  durationS: number | undefined;
  /** Events published per second. */
  rate: number;
  stream: string;
  group: string;
  help: boolean;
}

export const DEMO_HELP = `Usage: npm run demo -- [--duration N] [--rate N] [--stream S] [--group G]

Runs streamsink end to end on your machine: checks that Redis and Postgres answer (REDIS_URL and
DATABASE_URL, or the default local ports), applies the migrations, starts two workers of the payments
pipeline (child processes of the streamsink CLI) and a demo producer, and shows a live view: published,
applied, lag, pending, dead letters, rate. Ctrl-C stops everything cleanly (the workers drain their batches)
and prints what to try next.

Options:
  --duration N   stop after N seconds (for scripts and CI); default: run until Ctrl-C
  --rate N       events published per second (default 20, at most 5000)
  --stream S     the demo's stream (default demo-payments)
  --group G      the workers' consumer group (default demo-projector)
  -h, --help     this text

One payment in 15 is in JPY, which the payments pipeline refuses by default (unsupported_currency), and
one event in 53 is written with broken JSON (invalid_json): both end up as dead letters to look at.
`;

export function parseDemoArgs(argv: readonly string[]): DemoOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      stream: { type: 'string', default: 'demo-payments' },
      group: { type: 'string', default: 'demo-projector' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const problems: string[] = [];
  const number = (flag: string, text: string | undefined, min: number, max: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) {
      problems.push(`--${flag}: expected a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
      return undefined;
    }
    return n;
  };
  const durationS = number('duration', values.duration, 1, 86_400);
  const rate = number('rate', values.rate, 1, 5000) ?? 20;
  const name = /^[A-Za-z0-9._:-]{1,200}$/;
  if (!name.test(values.stream))
    problems.push(`--stream: expected a stream name, got ${JSON.stringify(values.stream)}`);
  if (!name.test(values.group))
    problems.push(`--group: expected a group name, got ${JSON.stringify(values.group)}`);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { durationS, rate, stream: values.stream, group: values.group, help: values.help };
}
