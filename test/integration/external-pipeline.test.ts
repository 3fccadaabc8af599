import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DIST_CLI, ensureDist, REPO_ROOT } from '../helpers/dist.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Issue 11's must-show: a pipeline file OUTSIDE the repository, importing only `streamsink` and `zod` (resolved
 * from its own node_modules, as in a user's project), migrated and run by the built CLI (`dist/`, what the
 * package ships): 3 workers, one SIGKILLed mid-run while it holds a batch, the same NDJSON file published
 * twice, and then once more after its dedupe markers expired. Its effects are running totals (not
 * idempotent): they must be exact, every entry acknowledged, nothing dead-lettered.
 */

const PIPELINE = `import { definePipeline } from 'streamsink';
import { z } from 'zod';

// A running total per key: applying an event twice would count it twice, so the inbox is relied on.
export default definePipeline({
  name: 'tallies',
  events: [{ type: 'tally.added', v: 1, schema: z.object({ amount: z.number().int().positive() }) }],
  migrations: [
    { name: '0001-tallies', sql: 'CREATE TABLE tallies (key text PRIMARY KEY, total bigint NOT NULL, events integer NOT NULL)' },
  ],
  async apply(tx, events) {
    await tx.query(
      \`INSERT INTO tallies (key, total, events)
       SELECT key, sum(amount), count(*) FROM unnest($1::text[], $2::bigint[]) AS t(key, amount)
       GROUP BY key ORDER BY key COLLATE "C"
       ON CONFLICT (key) DO UPDATE SET total = tallies.total + EXCLUDED.total, events = tallies.events + EXCLUDED.events\`,
      [events.map((e) => e.key), events.map((e) => String(e.data.amount))],
    );
  },
});
`;

const EVENTS = 4000;
const KEYS = 40;

interface Child {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe('a pipeline of your own, outside the repository, run by the CLI', () => {
  let bench: WorkerBench;
  let dir: string;
  const children: Child[] = [];
  const run = promisify(execFile);

  /** `streamsink <args>` from the built package, in the user's directory. */
  async function cli(...args: string[]): Promise<string> {
    const { stdout } = await run(process.execPath, [DIST_CLI, ...args], { cwd: dir, env: cliEnv() });
    return stdout;
  }
  function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, ...bench.env, STREAMSINK_BATCH_SIZE: '50', ...extra };
  }
  function spawnWorker(consumer: string): Child {
    const child = spawn(process.execPath, [DIST_CLI, 'worker', '--pipeline', './tallies-pipeline.mjs'], {
      cwd: dir,
      env: cliEnv({ STREAMSINK_CONSUMER: consumer }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const handle = { child, output: () => out, exited };
    children.push(handle);
    return handle;
  }

  beforeAll(async () => {
    await ensureDist();
    bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
    // The user's project: their pipeline file and a node_modules holding streamsink (this repository, whose
    // package.json exports dist/) and zod. Nothing under src/ is reachable from here.
    dir = await mkdtemp(path.join(os.tmpdir(), 'streamsink-user-'));
    await mkdir(path.join(dir, 'node_modules'));
    await symlink(REPO_ROOT, path.join(dir, 'node_modules', 'streamsink'), 'dir');
    const zod = await realpath(path.join(REPO_ROOT, 'node_modules', 'zod'));
    await symlink(zod, path.join(dir, 'node_modules', 'zod'), 'dir');
    await writeFile(path.join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
    await writeFile(path.join(dir, 'tallies-pipeline.mjs'), PIPELINE);
  });

  afterAll(async () => {
    for (const c of children)
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    if (bench) {
      const markers = await bench.redis.keys(`${bench.keys.stream}:dedupe:*`);
      for (let i = 0; i < markers.length; i += 1000) await bench.redis.del(...markers.slice(i, i + 1000));
      await bench.cleanup();
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the package entries resolve from a user project: streamsink and streamsink/testing', async () => {
    const probe = `import * as main from 'streamsink';
import * as testing from 'streamsink/testing';
console.log(JSON.stringify({ main: Object.keys(main), testing: Object.keys(testing) }));
`;
    await writeFile(path.join(dir, 'probe.mjs'), probe);
    const { stdout } = await run(process.execPath, ['probe.mjs'], { cwd: dir });
    const names = JSON.parse(stdout) as { main: string[]; testing: string[] };
    expect(names.main).toEqual(
      expect.arrayContaining([
        'definePipeline',
        'startWorker',
        'migrate',
        'createWorkerMetrics',
        'createRegistry',
        'PoisonMessageError',
        'createProducer',
        'IdempotencyConflictError',
        'contentHash',
        'contentId',
      ]),
    );
    expect(names.testing.sort()).toEqual(['PipelineConformanceError', 'checkPipelineConformance']);
  });

  it('3 workers, a kill -9 mid-run, the file published twice: running totals exact', async () => {
    expect(await cli('migrate', '--pipeline', './tallies-pipeline.mjs')).toContain(
      'applied tallies 0001-tallies',
    );

    const lines = Array.from({ length: EVENTS }, (_, i) => ({
      id: `tally-${i}`,
      type: 'tally.added',
      key: `k${(i * 7) % KEYS}`,
      ts: '2026-12-01T10:00:00.000Z',
      data: { amount: 1 + ((i * 7919) % 1000) },
    }));
    const expected = new Map<string, { total: number; events: number }>();
    for (const l of lines) {
      const t = expected.get(l.key) ?? { total: 0, events: 0 };
      expected.set(l.key, { total: t.total + l.data.amount, events: t.events + 1 });
    }
    const file = path.join(dir, 'tallies.ndjson');
    await writeFile(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const publish = async () =>
      JSON.parse(await cli('publish', '--stream', bench.streamName, '--file', file, '--json')) as {
        published: number;
        duplicates: number;
        rejectedCount: number;
      };
    const inboxCount = async () =>
      (await bench.db.query<{ n: number }>('SELECT count(*)::int AS n FROM streamsink_inbox')).rows[0]?.n ??
      0;

    const victim = spawnWorker('victim');
    const others = [spawnWorker('w1'), spawnWorker('w2')];
    const first = await publish();
    expect([first.published, first.duplicates, first.rejectedCount]).toEqual([EVENTS, 0, 0]);

    // Mid-run: once some of the file is committed, lock the totals so the next batches hang inside their
    // transactions, wait for the victim to hold a batch there, and kill it.
    const locker = new pg.Client({ connectionString: bench.schema.url });
    await locker.connect();
    try {
      await waitFor(async () => (await inboxCount()) >= 200, {
        timeoutMs: 30_000,
        intervalMs: 10,
        describe: () => victim.output().slice(-2000),
      });
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE tallies IN EXCLUSIVE MODE');
      const committedAtLock = await inboxCount();
      expect(committedAtLock).toBeLessThan(EVENTS);
      await waitFor(
        async () => {
          if ((await bench.pendingOf('victim')) === 0) return false;
          const { rows } = await locker.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'
             AND datname = current_database() AND application_name LIKE 'streamsink:victim%'`,
          );
          return (rows[0]?.n ?? 0) > 0;
        },
        { timeoutMs: 30_000, describe: () => victim.output().slice(-2000) },
      );
      victim.child.kill('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');
      expect(await bench.pendingOf('victim')).toBeGreaterThan(0);
    } finally {
      await locker.query('COMMIT').catch(() => undefined);
      await locker.end();
    }

    // The same file again: every line is a duplicate at publish (same ids, within the dedupe window).
    const second = await publish();
    expect([second.published, second.duplicates]).toEqual([0, EVENTS]);
    // Once more after the dedupe markers are gone (as after the window): every line reaches the stream again
    // as a new entry, and only the inbox stands between it and a doubled total.
    const markers = await bench.redis.keys(`${bench.keys.stream}:dedupe:*`);
    expect(markers).toHaveLength(EVENTS);
    for (let i = 0; i < markers.length; i += 1000) await bench.redis.del(...markers.slice(i, i + 1000));
    const third = await publish();
    expect([third.published, third.duplicates]).toEqual([EVENTS, 0]);

    const lag = async () => {
      const groups = (await bench.redis.xinfo('GROUPS', bench.keys.stream)) as unknown[][];
      const mine = groups.map(toRecord).find((g) => g.name === bench.group);
      return mine?.lag;
    };
    await waitFor(
      async () =>
        (await bench.pendingCount()) === 0 && (await lag()) === 0 && (await inboxCount()) === EVENTS,
      {
        timeoutMs: 60_000,
        describe: async () =>
          `pending ${await bench.pendingCount()}, lag ${await lag()}, inbox ${await inboxCount()}; ` +
          others.map((o) => o.output().slice(-1000)).join('\n'),
      },
    );
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(2 * EVENTS);
    expect(await bench.pendingOf('victim')).toBe(0); // its batch was reclaimed by the others
    expect(await bench.redis.xlen(bench.keys.deadLetter)).toBe(0);

    const { rows } = await bench.db.query<{ key: string; total: string; events: number }>(
      'SELECT key, total::text AS total, events FROM tallies ORDER BY key',
    );
    expect(rows).toEqual(
      [...expected.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, t]) => ({ key, total: String(t.total), events: t.events })),
    );

    for (const o of others) o.child.kill('SIGTERM');
    for (const o of others) expect(await o.exited).toEqual({ code: 0, signal: null });
  });
});

/** XINFO GROUPS' flat [name, value, ...] reply as an object. */
function toRecord(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}
