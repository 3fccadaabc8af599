import { PassThrough, Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CliContext } from '../../src/cli/context.ts';
import { main } from '../../src/cli/main.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { uniqueName } from '../helpers/names.ts';

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

describe('streamsink status', () => {
  let redis: Redis;
  const prefix = uniqueName('sst');
  const name = uniqueName('orders');
  const group = uniqueName('g');
  const keys = streamKeys(prefix, name);

  async function status(args: string[]) {
    const out = capture();
    const err = capture();
    const ctx: CliContext = {
      env: { REDIS_URL: inject('redisUrl'), STREAMSINK_KEY_PREFIX: prefix },
      stdin: new PassThrough(),
      stdout: out.stream,
      stderr: err.stream,
      interactive: false,
      hostname: 'test',
      readFile: () => '',
      signal: new AbortController().signal,
    };
    const code = await main(['status', ...args], ctx);
    return { code, stdout: out.text(), stderr: err.text() };
  }

  beforeAll(async () => {
    redis = new Redis(inject('redisUrl'));
    for (let i = 0; i < 10; i++) await redis.xadd(keys.stream, '*', 'n', String(i));
    await redis.xgroup('CREATE', keys.stream, group, '0');
    await redis.xreadgroup('GROUP', group, 'pod-a', 'COUNT', 3, 'STREAMS', keys.stream, '>');
    await redis.xreadgroup('GROUP', group, 'pod-b', 'COUNT', 2, 'STREAMS', keys.stream, '>');
    await redis.xadd(keys.deadLetter, '*', 'x', '1');
  });
  afterAll(async () => {
    await redis.del(keys.stream, keys.deadLetter);
    redis.disconnect();
  });

  it('reports length, lag, pending per consumer, oldest pending and dead-letter depth as JSON', async () => {
    const r = await status(['--stream', name, '--group', group, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      stream: name,
      key: keys.stream,
      length: 10,
      deadLetter: 1,
      group,
      lag: 5,
      pending: 5,
    });
    expect(report.consumers.map((c: { name: string; pending: number }) => [c.name, c.pending])).toEqual([
      ['pod-a', 3],
      ['pod-b', 2],
    ]);
    const first = (await redis.xrange(keys.stream, '-', '+', 'COUNT', 1))[0]?.[0];
    expect(report.oldestPendingId).toBe(first);
    expect(report.oldestPendingAgeSeconds).toBeGreaterThanOrEqual(0);
  });

  it('prints a readable table and changes nothing', async () => {
    const before = await redis.xpending(keys.stream, group);
    const r = await status(['--stream', name, '--group', group]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^pending\s+5$/m);
    expect(r.stdout).toMatch(/^\s+pod-a\s+3\s+\S+/m);
    expect(r.stdout).toMatch(/^dead letters\s+1/m);
    expect(await redis.xpending(keys.stream, group)).toEqual(before);
  });

  it('exits 1 naming the problem when the stream or group does not exist', async () => {
    const noStream = await status(['--stream', uniqueName('nope'), '--group', group]);
    expect(noStream.code).toBe(1);
    expect(noStream.stderr).toMatch(/does not exist/);
    const noGroup = await status(['--stream', name, '--group', 'missing-group']);
    expect(noGroup.code).toBe(1);
    expect(noGroup.stderr).toMatch(/no group "missing-group"/);
  });

  it('without --stream reads the default stream, events (none under this prefix: exit 1)', async () => {
    const r = await status(['--group', group]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${prefix}:{events}`);
  });
});
