import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type DlqTarget, dlqList, dlqShow, dlqStats } from '../../src/admin/dlq.ts';
import { dlqPurge, dlqRedrive } from '../../src/admin/dlq-redrive.ts';
import { StreamNotFoundError, UsageError } from '../../src/lib/errors.ts';
import { type StreamKeys, streamKeys } from '../../src/lib/redis/keys.ts';
import { envelopeFields, type SeedBad, seedDeadLetters } from '../helpers/dead-letters.ts';
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

const BAD: SeedBad[] = [
  ...[1, 2, 3].map((i) => ({
    fields: envelopeFields(`cur-${i}`, 'payment.captured', { currency: 'JPY', amountMinor: i }),
    reason: 'unsupported_currency' as const,
    type: 'payment.captured',
    eventId: `cur-${i}`,
  })),
  { fields: ['id', 'j-1', 'data', '{nope'], reason: 'invalid_json' },
  { fields: ['id', 'j-2', 'data', '{nope'], reason: 'invalid_json' },
  {
    fields: envelopeFields('ref-1', 'payment.refunded', { amountMinor: -1 }),
    reason: 'schema_violation',
    type: 'payment.refunded',
    eventId: 'ref-1',
  },
];

/** One good entry and BAD's six entries, which went through the real dead-letterer in BAD's order. */
async function seeded(): Promise<{ target: DlqTarget; keys: StreamKeys; bad: SeedBad[] }> {
  const { prefix, keys } = await seedDeadLetters(redis, BAD);
  created.push(keys.stream, keys.deadLetter);
  return { target: { redis, stream: 'payments', keyPrefix: prefix }, keys, bad: BAD };
}

async function sourceEntries(key: string): Promise<Array<[string, string[]]>> {
  return (await redis.xrange(key, '-', '+')) as Array<[string, string[]]>;
}

describe('dead-letter SDK', () => {
  it('counts by reason and by type, with oldest and newest', async () => {
    const { target, keys } = await seeded();
    const stats = await dlqStats(target);
    expect(stats).toMatchObject({
      stream: 'payments',
      key: keys.deadLetter,
      total: 6,
      unreadable: 0,
      byReason: { unsupported_currency: 3, invalid_json: 2, schema_violation: 1 },
      byType: { 'payment.captured': 3, 'payment.refunded': 1, '(unknown)': 2 },
    });
    expect(stats.oldest?.reason).toBe('unsupported_currency');
    expect(stats.newest?.reason).toBe('schema_violation');
  });

  it('lists with filters, newest last, and shows one entry whole', async () => {
    const { target, bad } = await seeded();
    const all = await dlqList(target);
    expect(all.map((e) => e.meta.reason)).toEqual(bad.map((b) => b.reason));
    expect(all.map((e) => e.original)).toEqual(bad.map((b) => b.fields));
    const currency = await dlqList(target, { reason: 'unsupported_currency', limit: 2 });
    expect(currency.map((e) => e.meta.eventId)).toEqual(['cur-2', 'cur-3']);
    expect((await dlqList(target, { type: 'payment.refunded' })).map((e) => e.meta.eventId)).toEqual([
      'ref-1',
    ]);
    expect(await dlqList(target, { since: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(await dlqList(target, { since: new Date(Date.now() - 60_000) })).toHaveLength(6);
    await expect(dlqList(target, { reason: 'unsupported_curency' })).rejects.toBeInstanceOf(UsageError);

    const first = all[0];
    expect(await dlqShow(target, first?.id ?? '')).toEqual(first);
    expect(await dlqShow(target, '1-1')).toBeUndefined();
  });

  it('redrives by reason: original fields back on the stream, out of the dead-letter stream, once', async () => {
    const { target, keys, bad } = await seeded();
    const before = await sourceEntries(keys.stream);
    const progress: number[] = [];
    const result = await dlqRedrive(
      target,
      { reason: 'unsupported_currency' },
      { onProgress: (p) => progress.push(p.done) },
    );
    expect(result).toMatchObject({ dryRun: false, selected: 3, redriven: 3, skipped: 0, failed: 0 });
    expect(progress.at(-1)).toBe(3);

    const after = await sourceEntries(keys.stream);
    const added = after.slice(before.length);
    expect(added.map(([, f]) => f)).toEqual(bad.slice(0, 3).map((b) => b.fields));
    expect(added.map(([id]) => id)).toEqual(result.republished.map((r) => r.newId));
    const left = await dlqStats(target);
    expect(left.byReason).toEqual({ invalid_json: 2, schema_violation: 1 });

    const again = await dlqRedrive(target, { reason: 'unsupported_currency' });
    expect(again).toMatchObject({ selected: 0, redriven: 0 });
    expect(await redis.xlen(keys.stream)).toBe(after.length);
  });

  it('redrives by ids and by type, honouring limit', async () => {
    const { target, keys } = await seeded();
    const all = await dlqList(target);
    const byIds = await dlqRedrive(target, { ids: [all[4]?.id ?? '', all[3]?.id ?? '', '1-1'] });
    expect(byIds).toMatchObject({ selected: 2, redriven: 2 });
    const limited = await dlqRedrive(target, { type: 'payment.captured' }, { limit: 1 });
    expect(limited).toMatchObject({ selected: 1, redriven: 1 });
    expect((await dlqList(target)).map((e) => e.meta.eventId)).toEqual(['cur-2', 'cur-3', 'ref-1']);
    expect(await redis.xlen(keys.stream)).toBe(7 + 3);
  });

  it('dry runs change nothing', async () => {
    const { target, keys } = await seeded();
    const snapshot = async () => [await sourceEntries(keys.stream), await sourceEntries(keys.deadLetter)];
    const before = await snapshot();
    expect(await dlqRedrive(target, { all: true }, { dryRun: true })).toMatchObject({
      dryRun: true,
      selected: 6,
      redriven: 0,
    });
    const preview = await dlqPurge(target, { reason: 'invalid_json' }, { dryRun: true });
    expect(preview).toEqual({ dryRun: true, selected: 2, purged: 0, missing: [], ids: expect.any(Array) });
    expect(preview.ids).toHaveLength(2);
    expect(await snapshot()).toEqual(before);
  });

  it('purges by selector', async () => {
    const { target, keys } = await seeded();
    expect(await dlqPurge(target, { reason: 'invalid_json' })).toEqual({
      dryRun: false,
      selected: 2,
      purged: 2,
      missing: [],
    });
    expect((await dlqStats(target)).byReason).toEqual({ unsupported_currency: 3, schema_violation: 1 });
    expect(await dlqPurge(target, { all: true })).toMatchObject({ purged: 4 });
    expect(await redis.xlen(keys.deadLetter)).toBe(0);
    expect(await redis.xlen(keys.stream)).toBe(7);
  });

  it('an interrupted redrive, run again, re-publishes every entry exactly once', async () => {
    const { target, keys, bad } = await seeded();
    const controller = new AbortController();
    // A first run that got through two entries, then one stopped (aborted) before its first chunk.
    const ids = (await dlqList(target)).map((e) => e.id);
    const first = await dlqRedrive(target, { ids: ids.slice(0, 2) }, { signal: controller.signal });
    controller.abort();
    const stopped = await dlqRedrive(target, { all: true }, { signal: controller.signal });
    expect(stopped).toMatchObject({ selected: 4, redriven: 0 });
    const rest = await dlqRedrive(target, { all: true });
    expect(first.redriven + rest.redriven).toBe(6);
    // The source stream keeps the original entries (acknowledged, not deleted); what follows them is the redrive.
    const republished = (await sourceEntries(keys.stream)).slice(7).map(([, f]) => f[1]);
    expect(republished.sort()).toEqual(bad.map((b) => b.fields[1]).sort());
  });

  it('reports entries it cannot redrive as failed and keeps them', async () => {
    const { target, keys } = await seeded();
    const foreign = (await redis.xadd(keys.deadLetter, '*', 'something', 'else')) as string;
    const result = await dlqRedrive(target, { all: true });
    expect(result).toMatchObject({ selected: 7, redriven: 6, failed: 1 });
    expect(result.failures).toEqual([{ id: foreign, message: 'not a dead-letter entry' }]);
    expect((await dlqStats(target)).unreadable).toBe(1);
    expect(await dlqPurge(target, { ids: [foreign] })).toMatchObject({ purged: 1 });
  });

  it('refuses unknown streams and empty selectors', async () => {
    const target = { redis, stream: uniqueName('nosuch'), keyPrefix: uniqueName('p') };
    await expect(dlqStats(target)).rejects.toBeInstanceOf(StreamNotFoundError);
    await expect(dlqList(target)).rejects.toThrow(/does not exist/);
    await expect(dlqRedrive(target, { all: true })).rejects.toBeInstanceOf(StreamNotFoundError);
    await expect(dlqPurge(target, { all: true })).rejects.toBeInstanceOf(StreamNotFoundError);
    const { target: known } = await seeded();
    await expect(dlqRedrive(known, {})).rejects.toBeInstanceOf(UsageError);
    await expect(dlqPurge(known, { ids: ['nonsense'] })).rejects.toBeInstanceOf(UsageError);
  });

  it('a stream without dead letters has empty stats', async () => {
    const keys = streamKeys(uniqueName('dlqsdk'), 'quiet');
    created.push(keys.stream);
    await redis.xadd(keys.stream, '*', 'id', 'x');
    const stats = await dlqStats({ redis, stream: 'quiet', keyPrefix: keys.stream.split(':')[0] as string });
    expect(stats).toMatchObject({ total: 0, byReason: {}, byType: {} });
    expect(stats.oldest).toBeUndefined();
  });
});
