// The pipeline run by the real CLI, as in production: `streamsink migrate --pipeline ./orders-pipeline.mjs`,
// `streamsink publish` of an NDJSON file (twice: the second time every line is a duplicate), then
// `streamsink worker --pipeline ./orders-pipeline.mjs` until the totals are in Postgres and nothing is pending.
// Needs Redis (REDIS_URL) and Postgres (DATABASE_URL); uses its own schema, key prefix and stream.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';

const run = promisify(execFile);
const project = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const streamsink = path.join(project, 'node_modules', '.bin', 'streamsink');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const suffix = randomBytes(5).toString('hex');
const schema = `orders_example_${suffix}`;
const prefix = `orders-example-${suffix}`;
const stream = 'orders';
let tmp;
let env;

function withSearchPath(url, searchPath) {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${searchPath}`);
  return u.toString();
}

/** Run `streamsink <args>` in the project directory; resolves to its stdout (rejects on a non-zero exit). */
async function cli(...args) {
  const { stdout } = await run(process.execPath, [streamsink, ...args], { cwd: project, env });
  return stdout;
}

async function waitFor(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.end();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'orders-example-'));
  env = {
    ...process.env,
    REDIS_URL: redisUrl,
    DATABASE_URL: withSearchPath(databaseUrl, schema),
    STREAMSINK_KEY_PREFIX: prefix,
    STREAMSINK_STREAM: stream,
    METRICS_HOST: '127.0.0.1',
    METRICS_PORT: '0', // any free port: tests may run side by side
    LOG_LEVEL: 'warn',
  };
});

after(async () => {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await rm(tmp, { recursive: true, force: true });
});

test('migrate, publish twice and run a worker: totals exact, nothing pending', async () => {
  assert.match(await cli('migrate', '--pipeline', './orders-pipeline.mjs'), /applied orders 0001-orders/);

  const lines = Array.from({ length: 300 }, (_, i) => {
    const orderId = `order-${i % 7}`;
    return {
      id: `line-${i}`,
      type: 'order.line_added',
      key: orderId,
      data: { orderId, amountMinor: 10 + i },
    };
  });
  const expected = new Map();
  for (const { data } of lines) {
    const o = expected.get(data.orderId) ?? { total: 0, lines: 0 };
    expected.set(data.orderId, { total: o.total + data.amountMinor, lines: o.lines + 1 });
  }
  const file = path.join(tmp, 'orders.ndjson');
  await writeFile(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  const first = JSON.parse(await cli('publish', '--stream', stream, '--file', file, '--json'));
  assert.deepEqual([first.published, first.duplicates], [300, 0]);
  const second = JSON.parse(await cli('publish', '--stream', stream, '--file', file, '--json'));
  assert.deepEqual([second.published, second.duplicates], [0, 300]);

  const worker = spawn(process.execPath, [streamsink, 'worker', '--pipeline', './orders-pipeline.mjs'], {
    cwd: project,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise((resolve) => worker.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    const db = new pg.Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    try {
      const rows = await waitFor(async () => {
        const { rows } = await db.query(
          'SELECT order_id, total_minor::int AS total, lines FROM orders ORDER BY order_id',
        );
        return rows.reduce((n, r) => n + r.lines, 0) === lines.length && rows;
      }, 'all 300 lines applied');
      assert.deepEqual(
        rows,
        [...expected].sort().map(([order_id, o]) => ({ order_id, total: o.total, lines: o.lines })),
      );
    } finally {
      await db.end();
    }
    const status = await waitFor(async () => {
      const s = JSON.parse(await cli('status', '--stream', stream, '--group', 'orders', '--json'));
      return s.pending === 0 && s.lag === 0 && s;
    }, 'nothing pending');
    assert.equal(status.deadLetter, 0);
  } finally {
    worker.kill('SIGTERM');
  }
  assert.deepEqual(await exited, { code: 0, signal: null });
});
