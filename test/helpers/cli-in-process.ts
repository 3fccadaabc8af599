import { readFileSync } from 'node:fs';
import { PassThrough, Readable, Writable } from 'node:stream';
import type { CliContext } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI's `main` in this process with captured output: the real commands, no child process. */
export async function runCli(
  argv: string[],
  env: Record<string, string | undefined>,
  given: string | RunOptions = {},
): Promise<CliRun> {
  // A string is the stdin text (the older call form).
  const options: RunOptions = typeof given === 'string' ? { stdin: given } : given;
  return runWith(argv, env, options);
}

interface RunOptions {
  stdin?: string;
  interactive?: boolean;
  signal?: AbortSignal;
  cwd?: string;
  /** Called with everything written to stdout so far, after each write (for commands that keep running). */
  onStdout?: (stdout: string) => void;
}

async function runWith(
  argv: string[],
  env: Record<string, string | undefined>,
  options: RunOptions,
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(String(chunk));
        cb();
      },
    });
  const stdin = options.stdin === undefined ? new PassThrough() : Readable.from([options.stdin]);
  if (options.stdin === undefined) (stdin as PassThrough).end();
  const ctx: CliContext = {
    env,
    stdin,
    stdout: sink((s) => {
      stdout += s;
      options.onStdout?.(stdout);
    }),
    stderr: sink((s) => {
      stderr += s;
    }),
    interactive: options.interactive ?? false,
    hostname: 'cli-test',
    cwd: options.cwd ?? process.cwd(),
    readFile: (path) => readFileSync(path, 'utf8'),
    signal: options.signal ?? new AbortController().signal,
  };
  const code = await main(argv, ctx);
  return { code, stdout, stderr };
}
