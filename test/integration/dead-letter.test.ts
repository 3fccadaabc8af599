import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dlqRedrive } from '../../src/admin/dlq-redrive.ts';
import { createDeadLetterer } from '../../src/consumers/dead-letter.ts';
import type { DeadLetterRecord, StreamEntry } from '../../src/consumers/types.ts';
import { decodeDeadLetter } from '../../src/lib/dead-letter-entry.ts';
import { type StreamKeys, streamKeys } from '../../src/lib/redis/keys.ts';
import { uniqueName } from '../helpers/names.ts';

let redis: Redis;
const created: string[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  if (created.length > 0) await redis.del(...created);
  await redis.quit();
});

/** A stream with `entries` added and read once by `consumer` of `group`, so all of them are pending. */
async function pendingStream(entries: string[][], group = 'g', consumer = 'c1') {
  const keys = streamKeys(uniqueName('dlqtest'), 's');
  created.push(keys.stream, keys.deadLetter);
  const ids: string[] = [];
  for (const fields of entries) ids.push((await redis.xadd(keys.stream, '*', ...fields)) as string);
  await redis.xgroup('CREATE', keys.stream, group, '0');
  const read = (await redis.xreadgroup(
    'GROUP',
    group,
    consumer,
    'COUNT',
    100_000,
    'STREAMS',
    keys.stream,
    '>',
  )) as Array<[string, Array<[string, string[]]>]> | null;
  const streamEntries: StreamEntry[] = (read?.[0]?.[1] ?? []).map(([id, fields]) => ({
    id,
    fields,
    deliveryCount: 1,
  }));
  return { keys, ids, entries: streamEntries, group, consumer };
}

function record(entry: StreamEntry, reason: DeadLetterRecord['reason'] = 'invalid_json'): DeadLetterRecord {
  return { entry, reason, errorClass: 'PoisonMessageError', errorMessage: 'data is not valid JSON' };
}

function deadLetterer(keys: StreamKeys, group: string, consumer: string) {
  return createDeadLetterer({
    redis,
    keys,
    group,
    consumer,
    pipelineName: 'payments',
    pipelineVersion: '1',
    now: () => Date.parse('2026-11-21T03:00:00.000Z'),
  });
}

describe('createDeadLetterer', () => {
  it('moves each entry to the dead-letter stream with its context and acknowledges it', async () => {
    const weird = [
      'dlq.reason',
      'forged',
      'id',
      'x',
      'id',
      'y',
      '',
      'empty name',
      'dlq.original_fields',
      '7',
    ];
    const s = await pendingStream([['id', 'e1', 'type', 'payment.captured', 'data', '{oops'], weird]);
    const [good, odd] = s.entries as [StreamEntry, StreamEntry];
    const result = await deadLetterer(s.keys, s.group, s.consumer).deadLetter([
      { ...record(good), eventType: 'payment.captured', eventId: 'e1' },
      record(odd, 'malformed_envelope'),
    ]);
    expect(result).toEqual({ moved: 2, skipped: 0, statuses: ['moved', 'moved'] });

    expect(await redis.xpending(s.keys.stream, s.group)).toEqual([0, null, null, null]);
    const dlq = (await redis.xrange(s.keys.deadLetter, '-', '+')) as Array<[string, string[]]>;
    expect(dlq).toHaveLength(2);
    const first = decodeDeadLetter(dlq[0]?.[1] ?? []);
    expect(first).toMatchObject({
      ok: true,
      value: {
        original: good.fields,
        meta: {
          sourceStream: s.keys.stream,
          sourceId: good.id,
          group: 'g',
          consumer: 'c1',
          reason: 'invalid_json',
          errorClass: 'PoisonMessageError',
          deliveryCount: 1,
          firstSeen: new Date(Number(good.id.split('-')[0])).toISOString(),
          deadLetteredAt: '2026-11-21T03:00:00.000Z',
          pipeline: 'payments',
          pipelineVersion: '1',
          eventType: 'payment.captured',
          eventId: 'e1',
        },
      },
    });
    // The original fields follow the header verbatim, so XRANGE shows them as they were.
    expect(dlq[0]?.[1].slice(-good.fields.length)).toEqual(good.fields);
    const second = decodeDeadLetter(dlq[1]?.[1] ?? []);
    expect(second.ok && second.value.original).toEqual(weird);
    expect(second.ok && second.value.meta.reason).toBe('malformed_envelope');
  });

  it('is idempotent when a call is retried: no second dead-letter entry', async () => {
    const s = await pendingStream([
      ['id', 'a'],
      ['id', 'b'],
      ['id', 'c'],
    ]);
    const dl = deadLetterer(s.keys, s.group, s.consumer);
    const records = s.entries.map((e) => record(e));
    expect(await dl.deadLetter(records.slice(0, 2))).toMatchObject({ moved: 2, skipped: 0 });
    // The reply to the first call was "lost": the caller retries the whole set.
    expect(await dl.deadLetter(records)).toEqual({
      moved: 1,
      skipped: 2,
      statuses: ['skipped', 'skipped', 'moved'],
    });
    expect(await redis.xlen(s.keys.deadLetter)).toBe(3);
    expect(await redis.xpending(s.keys.stream, s.group)).toEqual([0, null, null, null]);
    // The source entries are acknowledged, not deleted: the stream keeps its history.
    expect(await redis.xlen(s.keys.stream)).toBe(3);
  });

  it('leaves entries another consumer already acknowledged alone', async () => {
    const s = await pendingStream([
      ['id', 'a'],
      ['id', 'b'],
    ]);
    const [a, b] = s.entries as [StreamEntry, StreamEntry];
    await redis.xack(s.keys.stream, s.group, a.id);
    expect(await deadLetterer(s.keys, s.group, s.consumer).deadLetter([record(a), record(b)])).toEqual({
      moved: 1,
      skipped: 1,
      statuses: ['skipped', 'moved'],
    });
    const dlq = (await redis.xrange(s.keys.deadLetter, '-', '+')) as Array<[string, string[]]>;
    expect(
      dlq.map(
        ([, f]) =>
          (decodeDeadLetter(f) as { ok: true; value: { meta: { sourceId: string } } }).value.meta.sourceId,
      ),
    ).toEqual([b.id]);
  });

  it('handles many records and huge originals in one call', async () => {
    const many = Array.from({ length: 250 }, (_, i) => ['id', `e${i}`, 'data', 'x'.repeat(100)]);
    const huge = Array.from({ length: 6000 }, (_, i) => [`f${i}`, `${i}`]).flat();
    const s = await pendingStream([...many, huge]);
    const result = await deadLetterer(s.keys, s.group, s.consumer).deadLetter(
      s.entries.map((e) => record(e, 'oversize')),
    );
    expect(result).toMatchObject({ moved: 251, skipped: 0 });
    expect(await redis.xpending(s.keys.stream, s.group)).toEqual([0, null, null, null]);
    const last = (await redis.xrevrange(s.keys.deadLetter, '+', '-', 'COUNT', 1)) as Array<
      [string, string[]]
    >;
    const decoded = decodeDeadLetter(last[0]?.[1] ?? []);
    expect(decoded.ok && decoded.value.original).toEqual(huge);
  });

  it('moves nothing and says group_gone when the group does not exist', async () => {
    const keys = streamKeys(uniqueName('dlqtest'), 's');
    created.push(keys.stream, keys.deadLetter);
    const id = (await redis.xadd(keys.stream, '*', 'id', 'a')) as string;
    const r = record({ id, fields: ['id', 'a'], deliveryCount: 1 });
    expect(await deadLetterer(keys, 'nogroup', 'c').deadLetter([r, r])).toEqual({
      moved: 0,
      skipped: 0,
      statuses: ['group_gone', 'group_gone'],
    });
    expect(await redis.exists(keys.deadLetter)).toBe(0);
  });

  it('says group_gone, not skipped, for entries a recreated group has not delivered yet', async () => {
    const s = await pendingStream([
      ['id', 'a'],
      ['id', 'b'],
    ]);
    const [a, b] = s.entries as [StreamEntry, StreamEntry];
    // The group is destroyed and recreated between the read and the move, at an id between the two entries:
    // `a` counts as delivered for the new group (and is lost to it), `b` will be delivered again.
    await redis.xgroup('DESTROY', s.keys.stream, s.group);
    await redis.xgroup('CREATE', s.keys.stream, s.group, a.id);
    expect(await deadLetterer(s.keys, s.group, s.consumer).deadLetter([record(a), record(b)])).toEqual({
      moved: 0,
      skipped: 1,
      statuses: ['skipped', 'group_gone'],
    });
    expect(await redis.exists(s.keys.deadLetter)).toBe(0);
  });
  it('keeps the original bytes exactly, even when they are not UTF-8 (binary garbage)', async () => {
    const prefix = uniqueName('dlqtest');
    const keys = streamKeys(prefix, 's');
    created.push(keys.stream, keys.deadLetter);
    const garbage = Buffer.from([0xff, 0xfe, 0x41, 0x00, 0xc3]);
    const id = (await redis.xadd(keys.stream, '*', Buffer.from('data'), garbage)) as string;
    await redis.xgroup('CREATE', keys.stream, 'g', '0');
    // The worker reads text: invalid bytes arrive as U+FFFD, so the client's copy is not the original.
    const read = (await redis.xreadgroup('GROUP', 'g', 'c1', 'STREAMS', keys.stream, '>')) as Array<
      [string, Array<[string, string[]]>]
    >;
    const first = read[0]?.[1]?.[0];
    if (!first) throw new Error('nothing read');
    const [entryId, fields] = first;
    expect(entryId).toBe(id);
    expect(Buffer.from(fields[1] as string, 'utf8').equals(garbage)).toBe(false);

    const result = await deadLetterer(keys, 'g', 'c1').deadLetter([record({ id, fields, deliveryCount: 1 })]);
    expect(result.moved).toBe(1);

    const [dlqEntry] = (await redis.xrangeBuffer(keys.deadLetter, '-', '+')) as Array<[Buffer, Buffer[]]>;
    const items = (dlqEntry as [Buffer, Buffer[]])[1];
    const at = items.findIndex((b, i) => i % 2 === 0 && b.toString() === 'dlq.original_fields');
    expect(items[at + 1]?.toString()).toBe('1');
    expect(items[at + 2]?.toString()).toBe('data');
    expect(items[at + 3]?.equals(garbage)).toBe(true);
    expect(await redis.xpending(keys.stream, 'g')).toEqual([0, null, null, null]);

    // And redrive puts the very same bytes back on the stream.
    const redriven = await dlqRedrive({ redis, stream: 's', keyPrefix: prefix }, { all: true });
    expect(redriven.redriven).toBe(1);
    const back = (await redis.xrangeBuffer(keys.stream, `(${id}`, '+')) as Array<[Buffer, Buffer[]]>;
    expect(back).toHaveLength(1);
    expect(back[0]?.[1]?.[0]?.toString()).toBe('data');
    expect(back[0]?.[1]?.[1]?.equals(garbage)).toBe(true);
  });
});
