import { PassThrough, Writable } from 'node:stream';
import type { CliContext } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';

/** Run `streamsink <args>` in-process with this environment and stdin text; captures stdout and stderr. */
export async function runCli(
  args: string[],
  env: Record<string, string | undefined>,
  stdinText = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  stdin.end(stdinText);
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(chunk.toString());
        cb();
      },
    });
  const ctx: CliContext = {
    env,
    stdin,
    stdout: sink((s) => {
      stdout += s;
    }),
    stderr: sink((s) => {
      stderr += s;
    }),
    interactive: false,
    hostname: 'test',
    readFile: () => '',
    signal: new AbortController().signal,
  };
  const code = await main(args, ctx);
  return { code, stdout, stderr };
}
