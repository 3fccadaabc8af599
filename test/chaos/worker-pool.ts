import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import path from 'node:path';

/**
 * The worker processes of a chaos run: `node src/cli/main.ts worker` children, each with its own consumer
 * name and log file. Every process's end is recorded with what was expected of it: a SIGKILLed worker dies
 * by signal, a SIGTERMed one (or one stopped at the end) exits 0, and anything else is an unexpected exit.
 */
export type Expectation = 'running' | 'sigkill' | 'sigterm';

export interface WorkerRecord {
  consumer: string;
  pid: number | undefined;
  startedAt: number;
  expectation: Expectation;
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: number };
  /** Highest VmHWM (peak resident set) seen, in KiB. */
  peakRssKiB: number;
  /** Time from SIGTERM to exit, ms. */
  termToExitMs?: number;
  termAt?: number;
}

export interface WorkerPoolOptions {
  repoRoot: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
}

export interface WorkerPool {
  /** Start one more worker with a fresh consumer name. */
  spawnWorker(): WorkerRecord;
  live(): WorkerRecord[];
  all(): WorkerRecord[];
  kill(record: WorkerRecord): void;
  terminate(record: WorkerRecord): Promise<void>;
  /** SIGTERM every live worker and wait for all to exit (SIGKILL after `timeoutMs`). */
  stopAll(timeoutMs: number): Promise<void>;
  /** Read VmHWM of every live worker (call periodically). */
  sampleRss(): void;
  /** Exits that were not what the harness asked for. */
  unexpectedExits(): WorkerRecord[];
}

const MIN_AGE_BEFORE_SIGTERM_MS = 4000;

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const records: WorkerRecord[] = [];
  const children = new Map<WorkerRecord, { child: ChildProcess; exited: Promise<void>; log: WriteStream }>();
  let next = 0;

  function spawnWorker(): WorkerRecord {
    const consumer = `chaos-w${next++}`;
    const log = createWriteStream(path.join(options.logDir, `${consumer}.log`));
    const child = spawn(process.execPath, [path.join(options.repoRoot, 'src/cli/main.ts'), 'worker'], {
      cwd: options.repoRoot,
      env: { ...options.env, STREAMSINK_CONSUMER: consumer },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const record: WorkerRecord = {
      consumer,
      pid: child.pid,
      startedAt: Date.now(),
      expectation: 'running',
      peakRssKiB: 0,
    };
    const exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        record.exit = { code, signal, at: Date.now() };
        if (record.termAt !== undefined) record.termToExitMs = record.exit.at - record.termAt;
        // Let the pipes drain into the log before closing it.
        setTimeout(() => log.end(), 100);
        resolve();
      });
    });
    child.once('error', (error) => log.write(`spawn error: ${error.message}\n`));
    records.push(record);
    children.set(record, { child, exited, log });
    return record;
  }

  const live = () => records.filter((r) => r.exit === undefined && r.expectation === 'running');

  function sampleRss(): void {
    for (const r of records) {
      if (r.exit !== undefined || r.pid === undefined) continue;
      try {
        const status = readFileSync(`/proc/${r.pid}/status`, 'utf8');
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        if (hwm) r.peakRssKiB = Math.max(r.peakRssKiB, Number(hwm[1]));
      } catch {
        // exited between the check and the read
      }
    }
  }

  /**
   * A process signalled before Node has installed the worker's handlers dies by the signal's default action
   * (a pod killed while starting); what is under test is the worker's handling of SIGTERM, so wait until it
   * has had time to start.
   */
  async function settled(record: WorkerRecord): Promise<void> {
    const wait = record.startedAt + MIN_AGE_BEFORE_SIGTERM_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  function signal(record: WorkerRecord, sig: NodeJS.Signals): void {
    sampleRss();
    children.get(record)?.child.kill(sig);
  }

  return {
    spawnWorker,
    live,
    all: () => records,
    kill(record) {
      record.expectation = 'sigkill';
      signal(record, 'SIGKILL');
    },
    async terminate(record) {
      record.expectation = 'sigterm';
      await settled(record);
      record.termAt = Date.now();
      signal(record, 'SIGTERM');
      await children.get(record)?.exited;
    },
    async stopAll(timeoutMs) {
      const running = records.filter((r) => r.exit === undefined);
      await Promise.all(running.map(settled));
      for (const r of running) {
        if (r.expectation === 'running') {
          r.expectation = 'sigterm';
          r.termAt = Date.now();
          signal(r, 'SIGTERM');
        }
      }
      const all = Promise.all(running.map((r) => children.get(r)?.exited));
      const timer = setTimeout(() => {
        for (const r of running) if (r.exit === undefined) children.get(r)?.child.kill('SIGKILL');
      }, timeoutMs);
      await all;
      clearTimeout(timer);
    },
    sampleRss,
    unexpectedExits: () =>
      records.filter((r) => {
        if (r.exit === undefined) return false;
        if (r.expectation === 'sigkill') return r.exit.signal !== 'SIGKILL';
        if (r.expectation === 'sigterm') return r.exit.code !== 0;
        return true; // it ended without being asked to
      }),
  };
}
