import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDoorbellListener, type DoorbellListener } from '../../src/consumers/partitions/doorbells.ts';
import { createPartitionedStream } from '../../src/lib/partitions/stream-layout.ts';
import { createProducer } from '../../src/producers/producer.ts';
import { uniqueName } from '../helpers/names.ts';
import { deletePrefixKeys } from '../helpers/partitioned.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';
import { isRunning } from '../helpers/process-tree.ts';
import { waitFor } from '../helpers/wait.ts';

// A partitioned stream's partitions share one reader connection, so they used to poll while idle (up to
// STREAMSINK_POLL_MS) instead of waiting on their doorbells. The listener (partitions/doorbells.ts) hears
// every partition's doorbell on a connection of its own. As in doorbell.test.ts, the waits here are a minute
// long: a ring that did not arrive would time the test out instead of passing it.

const LONG_WAIT_MS = 60_000;

describe('partition doorbells', () => {
  const prefix = uniqueName('pbell');
  let redis: Redis;
  const listeners: DoorbellListener[] = [];
  // Each test's listener has doorbells of its own: a listener left running would pop another test's rings.
  let doorbells = new Map<number, string>();
  const ring = (p: number) => redis.lpush(doorbells.get(p) as string, '1');

  function listen(
    options: { listening?: () => number[]; blockSeconds?: number; onError?: (e: unknown) => void } = {},
  ) {
    const stream = uniqueName('s');
    doorbells = new Map([0, 1, 2, 3].map((p) => [p, `${prefix}:{${stream}/${p}/4}:doorbell`]));
    const listener = createDoorbellListener({
      redis: new Redis(inject('redisUrl')),
      doorbells,
      blockSeconds: options.blockSeconds ?? 1,
      ...(options.listening ? { listening: options.listening } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
    listeners.push(listener);
    return listener;
  }

  beforeAll(() => {
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    for (const l of listeners) await l.close();
    await deletePrefixKeys(redis, prefix);
    redis.disconnect();
  });

  it("a waiting partition wakes when its doorbell rings, and not on another partition's", async () => {
    const listener = listen();
    let twoWoke = false;
    const two = listener.wait(2, LONG_WAIT_MS).then(() => {
      twoWoke = true;
    });
    const one = listener.wait(1, LONG_WAIT_MS);
    await ring(1);
    await one;
    expect(twoWoke).toBe(false);
    await ring(2);
    await two;
  }, 20_000);

  it('a ring while nobody waits is kept for the next wait of that partition', async () => {
    const listener = listen();
    await ring(3);
    // The listener popped it (nobody was waiting): the list is empty, the ring is held in the listener.
    await waitFor(async () => (await redis.llen(doorbells.get(3) as string)) === 0);
    await listener.wait(3, LONG_WAIT_MS);
  }, 20_000);

  it('listens only for the partitions `listening` names: another worker keeps its rings', async () => {
    const listener = listen({ listening: () => [0] });
    await ring(1);
    const zero = listener.wait(0, LONG_WAIT_MS);
    await ring(0);
    await zero;
    expect(await redis.llen(doorbells.get(1) as string)).toBe(1);
    await redis.del(doorbells.get(1) as string);
  }, 20_000);

  it('a BLPOP that Redis refuses is reported, and listening resumes once the cause is gone', async () => {
    const errors: string[] = [];
    const listener = listen({ onError: (e) => errors.push(e instanceof Error ? e.message : String(e)) });
    // Not a list: every BLPOP over the doorbells fails with WRONGTYPE until it is gone.
    await redis.set(doorbells.get(0) as string, 'not a list');
    await waitFor(() => errors.length > 0);
    expect(errors[0]).toMatch(/WRONGTYPE/);
    await redis.del(doorbells.get(0) as string);
    const one = listener.wait(1, LONG_WAIT_MS);
    await ring(1);
    await one;
  }, 20_000);

  it('a wait ends when its signal aborts, and close ends a BLPOP without waiting out its timeout', async () => {
    const listener = listen({ blockSeconds: 300 });
    const stop = new AbortController();
    const waiting = listener.wait(0, LONG_WAIT_MS, stop.signal);
    stop.abort();
    await waiting;
    const parked = listener.wait(1, LONG_WAIT_MS);
    await listener.close();
    await parked; // released by close
  }, 20_000);
});

// The worker, end to end: a lone event on an idle partitioned stream is read when its doorbell rings. The
// child runs with every timer of a second or more stretched 30x (test/fixtures/stretch-long-timers.ts), and
// STREAMSINK_POLL_MS=1000: once idle, a partition that polled would next read 30 s later, far beyond what this
// test waits for the event to be archived.
describe('an idle partitioned worker', () => {
  const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;
  const STRETCH = new URL('../fixtures/stretch-long-timers.ts', import.meta.url).pathname;
  const prefix = uniqueName('pbellw');
  let redis: Redis;
  let schema: TestSchema;
  let db: pg.Pool;
  const pids: number[] = [];

  beforeAll(async () => {
    redis = new Redis(inject('redisUrl'));
    schema = await createTestSchema(inject('databaseUrl'), 'pbell');
    db = new pg.Pool({ connectionString: schema.url });
  });
  afterAll(async () => {
    for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    await db?.end();
    await schema?.drop();
    await deletePrefixKeys(redis, prefix);
    redis.disconnect();
  });

  it.each([{ ordering: 'none' }, { ordering: 'key' }])(
    'reads a lone event as soon as it is published, not at its next poll (ordering $ordering)',
    async ({ ordering }) => {
      // A stream of its own per case: the other case's worker is not to read this one's event.
      const stream = uniqueName('orders');
      const { layout } = await createPartitionedStream(redis, prefix, stream, 4, Date.now());
      if (layout.kind !== 'partitioned') throw new Error('expected a partitioned stream');
      const consumer = uniqueName('w');
      const child = spawn(process.execPath, ['--import', STRETCH, MAIN, 'worker'], {
        env: {
          PATH: process.env.PATH,
          REDIS_URL: inject('redisUrl'),
          DATABASE_URL: schema.url,
          STREAMSINK_KEY_PREFIX: prefix,
          STREAMSINK_STREAM: stream,
          STREAMSINK_GROUP: 'g1',
          STREAMSINK_CONSUMER: consumer,
          STREAMSINK_ORDERING: ordering,
          // Held through the test: an expiring lease would make the ordered worker take its partition over
          // again, and read, with no doorbell at all.
          STREAMSINK_LEASE_TTL_MS: '600000',
          STREAMSINK_PIPELINE: 'event-log',
          STREAMSINK_AUTO_MIGRATE: 'true',
          STREAMSINK_POLL_MS: '1000',
          METRICS_PORT: '0',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      pids.push(child.pid as number);
      let output = '';
      child.stdout.on('data', (d) => {
        output += d;
      });
      child.stderr.on('data', (d) => {
        output += d;
      });
      // Idle: the worker's connections but the doorbells' have sent nothing for two seconds or more, which
      // only a stretched wait does (an unstretched poll is at most STREAMSINK_POLL_MS = 1 s). Unordered
      // partitions read on the shared reader connection, ordered ones on the main connection (inside the lease
      // check).
      await waitFor(
        async () => {
          const clients = String(await redis.client('LIST'))
            .split('\n')
            .filter(
              (line) => line.includes(`name=streamsink:worker:${consumer}`) && !line.includes(':doorbells '),
            );
          return clients.length >= 2 && clients.every((line) => Number(/ idle=(\d+)/.exec(line)?.[1]) >= 2);
        },
        { timeoutMs: 20_000, describe: () => output.slice(-2000) },
      );
      const producer = createProducer({ redis, keyPrefix: prefix });
      const published = await producer.publish(stream, { type: 'order.placed', key: 'k1', data: { n: 1 } });
      const archived = await waitFor(
        async () =>
          (await db.query('SELECT 1 FROM event_log WHERE event_id = $1', [published.id])).rowCount === 1,
        { timeoutMs: 15_000, describe: () => output.slice(-2000) },
      );
      expect(archived).toBe(true);
      // And SIGTERM ends the idle partitions' waits at once: a wait that ran its course would take 30 s here.
      child.kill('SIGTERM');
      await waitFor(() => child.exitCode !== null, {
        timeoutMs: 15_000,
        describe: () => output.slice(-2000),
      });
      expect(child.exitCode).toBe(0);
    },
    90_000,
  );
});
