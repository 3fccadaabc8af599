import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { CliContext } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';
import { generatePaymentEvents } from '../helpers/payments-model.ts';
import { freePort, type OwnRedis, startOwnRedis } from '../helpers/servers-own.ts';
import { waitFor } from '../helpers/wait.ts';
import { type ChildWorker, createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Redis without persistence restarts under a running worker (the real CLI, as a child process): the
 * committed entries are gone from Redis. `streamsink status` must say so and exit 3, and the worker's
 * `streamsink_stream_data_loss_suspected` gauge must read 1, instead of a healthy-looking length 0, lag 0.
 */
describe('Redis lost data', () => {
  let redis: OwnRedis | undefined;
  let bench: WorkerBench | undefined;
  afterEach(async () => {
    await bench?.cleanup();
    await redis?.stop();
    bench = undefined;
    redis = undefined;
  });

  function capture(): { stream: Writable; text: () => string } {
    let text = '';
    return {
      stream: new Writable({
        write(chunk, _enc, cb) {
          text += chunk.toString();
          cb();
        },
      }),
      text: () => text,
    };
  }

  async function status(b: WorkerBench, json = false) {
    const out = capture();
    const err = capture();
    const ctx: CliContext = {
      env: {
        REDIS_URL: b.redisUrl,
        DATABASE_URL: b.schema.url,
        STREAMSINK_KEY_PREFIX: b.prefix,
      },
      stdin: new PassThrough(),
      stdout: out.stream,
      stderr: err.stream,
      interactive: false,
      hostname: 'test',
      readFile: () => '',
      signal: new AbortController().signal,
    };
    const args = ['status', '--stream', b.streamName, '--group', b.group, ...(json ? ['--json'] : [])];
    const code = await main(args, ctx);
    return { code, stdout: out.text(), stderr: err.text() };
  }

  async function gauge(port: number): Promise<number | undefined> {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('streamsink_stream_data_loss_suspected{'));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  }

  async function processed(b: WorkerBench): Promise<number> {
    const { rows } = await b.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
    return rows[0].n;
  }

  /** A worker that committed `count` events and recorded its watermark; returns its metrics port. */
  async function committedRun(
    seed: number,
  ): Promise<{ b: WorkerBench; port: number; worker: ChildWorker; lastId: string | undefined }> {
    redis = await startOwnRedis();
    const b = await createWorkerBench(redis.url, inject('databaseUrl'));
    bench = b;
    b.redis.on('error', () => {}); // the restart below drops its connection; it reconnects by itself
    const port = await freePort();
    const events = generatePaymentEvents({ count: 200, seed, accounts: 20, prefix: `dl${seed}` });
    const ids = await b.publish(events);
    const worker = b.spawnWorker('dl-worker', {
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      STREAMSINK_METRICS_SAMPLE_INTERVAL_MS: '100',
    });
    const lastId = ids[ids.length - 1];
    await waitFor(
      async () => {
        const { rows } = await b.db.query(
          `SELECT committed_ms || '-' || committed_seq AS id FROM streamsink_stream_watermarks
            WHERE stream = $1 AND consumer_group = $2`,
          [b.keys.stream, b.group],
        );
        return (await processed(b)) === events.length && rows[0]?.id === lastId;
      },
      { timeoutMs: 30_000, describe: async () => `processed ${await processed(b)}; ${worker.output()}` },
    );
    await waitFor(async () => (await gauge(port)) === 0, { timeoutMs: 10_000 });
    // Healthy: no warning, exit 0.
    const before = await status(b);
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/data loss\s+none seen/);
    expect(before.stderr).toBe('');
    return { b, port, worker, lastId };
  }

  it('after a restart without persistence, status warns and exits 3, and the gauge reads 1', async () => {
    const { b, port, worker, lastId } = await committedRun(1);
    await redis?.restart();
    expect(await b.redis.xlen(b.keys.stream)).toBe(0); // the data is gone

    await waitFor(async () => (await gauge(port)) === 1, {
      timeoutMs: 20_000,
      describe: () => worker.output(),
    });
    // The worker re-creates its group (and so the stream) after the restart; status reports on that stream.
    await waitFor(async () => (await b.redis.exists(b.keys.stream)) === 1, {
      timeoutMs: 20_000,
      describe: () => worker.output(),
    });
    const r = await status(b);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('WARNING: REDIS LOST DATA');
    expect(r.stderr).toContain(`highest committed entry id: ${lastId}`);
    expect(r.stdout).toMatch(/data loss\s+SUSPECTED/);
    const json = JSON.parse((await status(b, true)).stdout);
    expect(json.dataLoss).toMatchObject({ checked: true, suspected: true });
    expect(json.dataLoss.signs).toContain('last_id_behind');
    expect(worker.output()).toContain('REDIS LOST DATA');
  });

  it('still warns after new events (with higher ids) were added and processed since the restart', async () => {
    const { b, port, worker } = await committedRun(2);
    await redis?.restart();
    const fresh = generatePaymentEvents({ count: 20, seed: 3, accounts: 5, prefix: 'dlnew' });
    const ids = await b.publish(fresh);
    const newest = ids[ids.length - 1];
    // The worker processes them and records the new, higher committed id: the id check alone would pass now.
    await waitFor(
      async () => {
        const { rows } = await b.db.query(
          `SELECT committed_ms || '-' || committed_seq AS id FROM streamsink_stream_watermarks
            WHERE stream = $1 AND consumer_group = $2`,
          [b.keys.stream, b.group],
        );
        return (await processed(b)) === 200 + fresh.length && rows[0]?.id === newest;
      },
      { timeoutMs: 30_000, describe: async () => `processed ${await processed(b)}; ${worker.output()}` },
    );
    await waitFor(async () => (await gauge(port)) === 1, {
      timeoutMs: 20_000,
      describe: () => worker.output(),
    });
    const r = await status(b, true);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('WARNING: REDIS LOST DATA');
    const json = JSON.parse(r.stdout);
    expect(json.length).toBe(fresh.length);
    expect(json.dataLoss.signs).toEqual(['stream_recreated']);
  });

  it('without Postgres, status says it could not check and keeps its usual exit code', async () => {
    redis = await startOwnRedis();
    const b = await createWorkerBench(redis.url, inject('databaseUrl'));
    bench = b;
    await b.redis.xadd(b.keys.stream, '*', 'x', '1');
    await b.redis.xgroup('CREATE', b.keys.stream, b.group, '0');
    const out = capture();
    const err = capture();
    const closedPort = await freePort();
    const code = await main(['status', '--stream', b.streamName, '--group', b.group], {
      env: {
        REDIS_URL: b.redisUrl,
        DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/nothing`,
        STREAMSINK_KEY_PREFIX: b.prefix,
      },
      stdin: new PassThrough(),
      stdout: out.stream,
      stderr: err.stream,
      interactive: false,
      hostname: 'test',
      readFile: () => '',
      signal: new AbortController().signal,
    });
    expect(code).toBe(0);
    expect(out.text()).toMatch(
      /data loss\s+not checked: cannot read watermarks from postgres:\/\/\*\*\*@127\.0\.0\.1/,
    );
    expect(out.text()).toMatch(/length\s+1/);
  });
});
