import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The streamsink CLI the demo starts its children with: the `streamsink` bin (dist/ when built, else src/). */
export const CLI = fileURLToPath(new URL('../../bin/streamsink.js', import.meta.url));

export interface Child {
  name: string;
  process: ChildProcess;
  logPath: string;
  /** The ops server's port, once the worker logged it. */
  metricsPort?: number;
  /** Settles when the process has exited: its code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Start `streamsink <args>` with its stdout and stderr going to a log file. In its own process group
 * (detached): Ctrl-C at the terminal reaches the demo only, and the demo sends each child exactly one
 * SIGTERM, so the workers drain instead of taking a second signal as "exit now".
 */
export function startCli(name: string, args: string[], env: NodeJS.ProcessEnv, logPath: string): Child {
  const log: WriteStream = createWriteStream(logPath, { flags: 'a' });
  const proc = spawn(process.execPath, [CLI, ...args], {
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child: Child = {
    name,
    process: proc,
    logPath,
    exited: new Promise((resolve) => {
      proc.on('exit', (code, signal) => resolve({ code, signal }));
      proc.on('error', () => resolve({ code: null, signal: null }));
    }),
  };
  let pending = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (child.metricsPort !== undefined || !line.includes('ops server listening')) continue;
      try {
        child.metricsPort = Number(JSON.parse(line).port) || undefined;
      } catch {
        // a pretty-printed log line: no port to show
      }
    }
  });
  proc.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
  void child.exited.then(() => log.end());
  return child;
}

/** Run a CLI command to completion (migrate): its exit code and what it printed. */
export async function runCliOnce(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => {
    output += d;
  });
  proc.stderr.on('data', (d) => {
    output += d;
  });
  const code = await new Promise<number | null>((resolve) => {
    proc.on('exit', (c) => resolve(c));
    proc.on('error', () => resolve(null));
  });
  return { code, output };
}

/**
 * SIGTERM to every child still running, then wait for each to exit: a worker stops reading, finishes and
 * acknowledges its in-flight batches, and exits. One that is still there after `graceMs` gets SIGKILL (its
 * unfinished entries stay pending in Redis, to be reclaimed: nothing is lost).
 */
export async function stopAll(children: readonly Child[], graceMs: number): Promise<{ killed: string[] }> {
  const killed: string[] = [];
  await Promise.all(
    children.map(async (c) => {
      if (c.process.exitCode !== null || c.process.signalCode !== null) return;
      c.process.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([c.exited, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        killed.push(c.name);
        c.process.kill('SIGKILL');
        await c.exited;
      }
    }),
  );
  return { killed };
}
