import { PassThrough, Writable } from 'node:stream';
import type { CliContext } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';

/** Run `streamsink <args>` in this process with captured output, the given env and optional stdin text. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  stdin = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(chunk.toString());
        cb();
      },
    });
  const input = new PassThrough();
  input.end(stdin);
  const ctx: CliContext = {
    env,
    stdin: input,
    stdout: sink((t) => {
      stdout += t;
    }),
    stderr: sink((t) => {
      stderr += t;
    }),
    interactive: false,
    hostname: 'test',
    readFile: () => '',
    signal: new AbortController().signal,
  };
  const code = await main(args, ctx);
  return { code, stdout, stderr };
}
