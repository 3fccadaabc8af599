import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dlqList } from '../../src/admin/dlq.ts';
import { encodeEnvelope } from '../../src/lib/envelope.ts';
import { contentId } from '../../src/producers/content-id.ts';
import { waitFor } from '../helpers/wait.ts';
import { createWorkerBench, type WorkerBench } from '../helpers/worker-harness.ts';

/**
 * Identity through the `publish` command, end to end (issue 13): the same id with other data is a conflict
 * (counted, exit 1, nothing written); the same conflict by raw XADD is dead-lettered `id_conflict` by the
 * worker and the first payload's effect stays; a file without ids published twice publishes nothing the
 * second time (content ids), unless `--fresh-ids`.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
let bench: WorkerBench;
let dir: string;

beforeAll(async () => {
  bench = await createWorkerBench(inject('redisUrl'), inject('databaseUrl'));
  dir = await mkdtemp(join(tmpdir(), 'streamsink-ids-'));
});

afterAll(async () => {
  let cursor = '0';
  do {
    const [next, keys] = await bench.redis.scan(cursor, 'MATCH', `${bench.prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await bench.redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  await bench.cleanup();
  await rm(dir, { recursive: true, force: true });
});

function publish(
  file: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [MAIN, 'publish', '--stream', bench.streamName, '--file', file, ...args],
      {
        env: { PATH: process.env.PATH, REDIS_URL: bench.redisUrl, STREAMSINK_KEY_PREFIX: bench.prefix },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function ndjson(name: string, events: object[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  return file;
}

const capture = (prefix: string, amountMinor: number, id?: string) => ({
  ...(id === undefined ? {} : { id }),
  type: 'payment.captured',
  key: `${prefix}-pay`,
  data: { paymentId: `${prefix}-pay`, accountId: `${prefix}-acct`, amountMinor, currency: 'EUR' },
});

async function balance(prefix: string): Promise<string | undefined> {
  const { rows } = await bench.db.query(
    'SELECT balance_minor::text AS b FROM account_balances WHERE account_id = $1',
    [`${prefix}-acct`],
  );
  return rows[0]?.b;
}

async function inboxRows(): Promise<number> {
  const { rows } = await bench.db.query('SELECT count(*)::int AS n FROM streamsink_inbox');
  return rows[0].n;
}

describe('publish and identity, end to end', () => {
  it('same id, other data: publish reports one conflict and exits 1; by raw XADD the worker dead-letters id_conflict', async () => {
    const first = await publish(await ndjson('first.ndjson', [capture('cf', 1000, 'cf-evt-1')]), '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ published: 1, duplicates: 0, conflicts: 0 });

    const other = capture('cf', 999_999, 'cf-evt-1');
    const second = await publish(
      await ndjson('second.ndjson', [other, capture('cf', 1000, 'cf-evt-1')]),
      '--json',
    );
    expect(second.code).toBe(1);
    const summary = JSON.parse(second.stdout);
    expect(summary).toMatchObject({ published: 0, duplicates: 1, conflicts: 1, rejectedCount: 0 });
    expect(summary.conflicted).toEqual([
      { line: 1, id: 'cf-evt-1', entryId: expect.stringMatching(/^\d+-\d+$/) },
    ]);
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(1);

    // A producer that bypasses the SDK: nothing stops it at publish, so the worker must.
    await bench.redis.xadd(
      bench.keys.stream,
      '*',
      ...encodeEnvelope({ ...other, id: 'cf-evt-1', v: 1, ts: '2026-11-21T10:00:00.000Z' }),
    );
    const worker = await bench.startWorker();
    await waitFor(
      async () =>
        (await bench.redis.xlen(bench.keys.deadLetter)) === 1 &&
        (await inboxRows()) === 1 &&
        (await bench.pendingCount()) === 0,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await worker.close();
    const dead = await dlqList({ redis: bench.redis, stream: bench.streamName, keyPrefix: bench.prefix });
    expect(dead.map((d) => [d.meta.reason, d.meta.eventId])).toEqual([['id_conflict', 'cf-evt-1']]);
    expect(await balance('cf')).toBe('1000');
  });

  it('a file without ids published twice: the second run publishes 0; --fresh-ids publishes again', async () => {
    const events = [capture('ci1', 100), capture('ci2', 200), capture('ci3', 300), capture('ci1', 100)];
    const file = await ndjson('no-ids.ndjson', events);
    const before = await bench.redis.xlen(bench.keys.stream);

    const first = await publish(file, '--json');
    expect(first.code, first.stderr).toBe(0);
    // The fourth line is the first one again: by the content-id rule it is the same event.
    expect(JSON.parse(first.stdout)).toMatchObject({ lines: 4, published: 3, duplicates: 1, conflicts: 0 });
    const again = await publish(file, '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ lines: 4, published: 0, duplicates: 4, conflicts: 0 });
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(before + 3);
    const added = (await bench.redis.xrange(bench.keys.stream, '-', '+')).slice(before);
    expect(added.map(([, f]) => f[f.indexOf('id') + 1])).toEqual(events.slice(0, 3).map((e) => contentId(e)));

    const fresh = await publish(file, '--json', '--fresh-ids');
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout)).toMatchObject({ published: 4, duplicates: 0 });
    expect(await bench.redis.xlen(bench.keys.stream)).toBe(before + 7);
  });
});
