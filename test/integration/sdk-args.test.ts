import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { dlqList, dlqShow, dlqStats } from '../../src/admin/dlq.ts';
import { dlqPurge, dlqRedrive } from '../../src/admin/dlq-redrive.ts';
import { InvalidArgumentError } from '../../src/lib/errors.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer } from '../../src/producers/producer.ts';
import { envelopeFields, type SeedBad, seedDeadLetters } from '../helpers/dead-letters.ts';
import { uniqueName } from '../helpers/names.ts';

// Misplaced options, called the way a JavaScript caller would (no types to stop them): each must be refused
// before anything changes in Redis. Before the checks, `{ all: true, dryRun: true }` purged everything.
type Untyped = (...args: unknown[]) => Promise<unknown>;
const purge = dlqPurge as unknown as Untyped;
const redrive = dlqRedrive as unknown as Untyped;

let redis: Redis;
const created: string[] = [];

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  if (created.length > 0) await redis.del(...created);
  await redis.quit();
});

const BAD: SeedBad[] = [1, 2, 3, 4].map((i) => ({
  fields: envelopeFields(`cur-${i}`, 'payment.captured', { currency: 'JPY', amountMinor: i }),
  reason: 'unsupported_currency' as const,
  type: 'payment.captured',
  eventId: `cur-${i}`,
}));

describe('SDK arguments are checked at run time', () => {
  it('a misplaced dryRun purges and redrives nothing', async () => {
    const { prefix, keys } = await seedDeadLetters(redis, BAD);
    created.push(keys.stream, keys.deadLetter);
    const target = { redis, stream: 'payments', keyPrefix: prefix };
    const counts = async () => [await redis.xlen(keys.deadLetter), await redis.xlen(keys.stream)];
    const before = await counts();
    expect(before).toEqual([4, 5]);

    const misplaced: Array<[string, () => Promise<unknown>, RegExp]> = [
      [
        'dlqPurge',
        () => purge(target, { all: true, dryRun: true }),
        /selector: unknown key "dryRun" \(it belongs in options, the third argument\)/,
      ],
      [
        'dlqPurge',
        () => purge(target, { reason: 'unsupported_currency', dryRun: true }),
        /unknown key "dryRun"/,
      ],
      ['dlqPurge', () => purge(target, { all: true }, { limit: 1 }), /options: unknown key "limit"/],
      ['dlqPurge', () => purge(target, { all: true }, undefined, { dryRun: true }), /argument 4: unexpected/],
      [
        'dlqRedrive',
        () => redrive(target, { all: true, dryRun: true }),
        /selector: unknown key "dryRun" \(it belongs in options/,
      ],
      ['dlqRedrive', () => redrive(target, { all: true, limit: 1, dryRun: true }), /unknown key "limit"/],
      ['dlqRedrive', () => redrive(target, { all: true }, { dryrun: true }), /options: unknown key "dryrun"/],
      [
        'dlqRedrive',
        () => redrive(target, { all: true }, { dryRun: 'true' }),
        /options\.dryRun: expected boolean/,
      ],
    ];
    for (const [fn, call, message] of misplaced) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, String(call)).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).message).toMatch(new RegExp(`^${fn}: `));
      expect((error as InvalidArgumentError).message).toMatch(message);
      expect(await counts(), String(call)).toEqual(before);
    }

    // The same intent, written correctly, is a dry run indeed; then the real purge works.
    expect(await dlqPurge(target, { all: true }, { dryRun: true })).toMatchObject({
      dryRun: true,
      selected: 4,
      purged: 0,
    });
    expect(await dlqRedrive(target, { all: true }, { dryRun: true })).toMatchObject({
      selected: 4,
      redriven: 0,
    });
    expect(await counts()).toEqual(before);
    expect(await dlqPurge(target, { all: true })).toMatchObject({ purged: 4 });
    expect(await counts()).toEqual([0, 5]);
  });

  it('read functions refuse unknown options and extra arguments', async () => {
    const { prefix, keys } = await seedDeadLetters(redis, BAD.slice(0, 1));
    created.push(keys.stream, keys.deadLetter);
    const target = { redis, stream: 'payments', keyPrefix: prefix };
    await expect((dlqList as unknown as Untyped)(target, { all: true })).rejects.toThrow(
      'dlqList: options: unknown key "all"',
    );
    await expect((dlqStats as unknown as Untyped)(target, { reason: 'oversize' })).rejects.toThrow(
      /dlqStats: argument 2: unexpected/,
    );
    await expect((dlqShow as unknown as Untyped)(target, 42)).rejects.toThrow(/dlqShow: id: expected string/);
    await expect((dlqStats as unknown as Untyped)({ redis, stream: 'payments', prefix })).rejects.toThrow(
      'dlqStats: target: unknown key "prefix"',
    );
    expect((await dlqList(target, { limit: 5 })).length).toBe(1);
  });

  it('createProducer refuses unknown options, publish an extra argument, and nothing is written', async () => {
    const prefix = uniqueName('sdkargs');
    const keys = streamKeys(prefix, 'orders');
    created.push(keys.stream);
    const create = createProducer as unknown as (...args: unknown[]) => unknown;
    expect(() => create({ redis, keyPrefix: prefix, idempotence: false })).toThrow(InvalidArgumentError);
    expect(() => create({ redis, keyPrefix: prefix, chunkSize: 0 })).toThrow(/options\.chunkSize/);
    expect(() => create({ redis, keyPrefix: prefix }, { idempotent: false })).toThrow(/argument 2/);
    const producer = createProducer({ redis, keyPrefix: prefix });
    const event = { type: 'order.placed', data: { n: 1 } };
    const publish = producer.publish as unknown as Untyped;
    await expect(publish('orders', event, { idempotent: false })).rejects.toThrow(
      'publish: argument 3: unexpected: publish takes 2 arguments (stream, event)',
    );
    await expect((producer.publishBatch as unknown as Untyped)('orders', event)).rejects.toThrow(
      /publishBatch: events: expected array, got object/,
    );
    expect(await redis.xlen(keys.stream)).toBe(0);
    expect(await producer.publish('orders', event)).toMatchObject({ status: 'added' });
    expect(await redis.xlen(keys.stream)).toBe(1);
  });
});
