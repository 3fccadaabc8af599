import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { isRunning } from '../helpers/process-tree.ts';
import { freePort } from '../helpers/servers-own.ts';
import { waitFor } from '../helpers/wait.ts';

// With Redis refusing connections, a CLI command used to print its error and exit 2 s later (ioredis'
// disconnect timer on a socket that had already closed), and a worker stopped with SIGTERM took 5 s (a QUIT
// queued behind the start's commands until its 3 s timeout, then that timer). The children run with every
// timer of a second or more stretched 30x (test/fixtures/stretch-long-timers.ts): a process that still
// needed one of those timers to exit would take a minute or more, far beyond what these tests wait, while
// one that needs none exits as before. So the tests show the mechanism without timing anything.

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const STRETCH = new URL('../fixtures/stretch-long-timers.ts', import.meta.url).pathname;
/** Far below the stretched delays (60 s and more), far above a prompt exit on a loaded machine. */
const EXIT_WAIT_MS = 20_000;

let schema: TestSchema;
let redisUrl: string;
const children: number[] = [];

beforeAll(async () => {
  schema = await createTestSchema(inject('databaseUrl'), 'unreach');
  // Nothing listens here: every connection attempt is refused.
  redisUrl = `redis://127.0.0.1:${await freePort()}`;
});

afterAll(async () => {
  for (const pid of children) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  await schema?.drop();
});

interface Child {
  output: () => string;
  stderr: () => string;
  exit: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
  kill: (signal: NodeJS.Signals) => void;
}

function start(args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', STRETCH, MAIN, ...args], {
    env: {
      PATH: process.env.PATH,
      REDIS_URL: redisUrl,
      DATABASE_URL: schema.url,
      STREAMSINK_KEY_PREFIX: uniqueName('unreach'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child.pid as number);
  let output = '';
  let stderr = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
    stderr += d;
  });
  child.on('exit', (code, signal) => {
    exit = { code, signal };
  });
  return { output: () => output, stderr: () => stderr, exit: () => exit, kill: (s) => child.kill(s) };
}

describe('Redis refuses connections', () => {
  it.each([
    { name: 'status', args: ['status', '--stream', 'orders'], cluster: false },
    { name: 'dlq list', args: ['dlq', 'list', '--stream', 'orders'], cluster: false },
    // A cluster client (REDIS_CLUSTER_NODES) whose only seed node refuses.
    {
      name: 'stream describe on a cluster',
      args: ['stream', 'describe', '--stream', 'orders'],
      cluster: true,
    },
  ])('$name says why and exits 1 without waiting on a timer', async ({ args, cluster }) => {
    const hostPort = redisUrl.slice('redis://'.length);
    const cli = start(args, cluster ? { REDIS_CLUSTER_NODES: hostPort } : {});
    const exit = await waitFor(cli.exit, { timeoutMs: EXIT_WAIT_MS, describe: cli.output });
    expect(exit).toEqual({ code: 1, signal: null });
    const cause = cluster ? 'None of startup nodes is available' : `connect ECONNREFUSED ${hostPort}`;
    // One line naming the server and the cause, no stack trace.
    expect(cli.stderr()).toBe(
      `streamsink ${args[0]}: cannot connect to Redis at ${redisUrl}: the server cannot be reached ` +
        `(${cause}); check the host and port in REDIS_URL (or REDIS_URL_FILE) and that Redis is running ` +
        'and reachable from here\n',
    );
  });

  it('a worker waiting for Redis stops on SIGTERM without waiting on a timer', async () => {
    const worker = start(['worker', '--stream', 'orders'], {
      STREAMSINK_AUTO_MIGRATE: 'true',
      STREAMSINK_CONSUMER: 'unreachable',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    // Past the schema check, retrying Redis: the start is waiting on commands queued for a connection that
    // cannot succeed.
    await waitFor(() => worker.output().includes('ECONNREFUSED') && worker.output().includes('schema is'), {
      timeoutMs: 60_000,
      describe: worker.output,
    });
    expect(worker.exit()).toBeUndefined();
    worker.kill('SIGTERM');
    const exit = await waitFor(worker.exit, { timeoutMs: EXIT_WAIT_MS, describe: worker.output });
    expect(exit).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain('shutting down');
    expect(worker.output()).not.toContain('close failed');
  });
});
