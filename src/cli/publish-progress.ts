import { open } from 'node:fs/promises';
import type { CliContext } from './context.ts';
import type { PublishSummary } from './publish.ts';

/**
 * `publish`'s progress at a terminal: a line on stderr, redrawn at most every 200 ms, with lines read (of the
 * file's total and a percentage when known), the outcome so far and the rate.
 */
export function createProgress(
  ctx: Pick<CliContext, 'stderr' | 'interactive'>,
  summary: PublishSummary,
  totalLines: number | undefined,
) {
  const startedAt = Date.now();
  let last = 0;
  const line = (now: number) =>
    `\r${formatProgress({
      lines: summary.lines,
      totalLines,
      published: summary.published,
      duplicates: summary.duplicates,
      conflicts: summary.conflicts,
      rejected: summary.rejectedCount,
      elapsedMs: now - startedAt,
    })}`;
  return {
    update() {
      if (!ctx.interactive) return;
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      ctx.stderr.write(line(now));
    },
    done() {
      if (ctx.interactive) ctx.stderr.write(`${line(Date.now())}\n`);
    },
  };
}

/**
 * The progress line, pure: lines read (of the total, with a percentage, when the input is a file), the
 * outcome so far and the rate in lines per second.
 */
export function formatProgress(p: {
  lines: number;
  totalLines: number | undefined;
  published: number;
  duplicates: number;
  conflicts: number;
  rejected: number;
  elapsedMs: number;
}): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const of =
    p.totalLines === undefined || p.totalLines === 0
      ? `${n(p.lines)} lines`
      : `${n(p.lines)} of ${n(p.totalLines)} lines (${Math.min(100, Math.floor((p.lines * 100) / p.totalLines))}%)`;
  const rate = p.elapsedMs > 0 ? Math.round((p.lines * 1000) / p.elapsedMs) : 0;
  return `${of}, ${n(rate)} lines/s: published ${n(p.published)}, duplicates ${n(p.duplicates)}, conflicts ${n(p.conflicts)}, rejected ${n(p.rejected)}`;
}

/** Lines in a file as readline counts them: newlines, plus a last line without one. */
export async function countLines(path: string): Promise<number> {
  let lines = 0;
  let last = 0x0a;
  for await (const chunk of (await open(path)).createReadStream()) {
    const bytes = chunk as Buffer;
    for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) lines += 1;
    if (bytes.length > 0) last = bytes[bytes.length - 1] as number;
  }
  return last === 0x0a ? lines : lines + 1;
}
