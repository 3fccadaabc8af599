import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { decodeEntry } from '../../src/lib/envelope.ts';
import { PayloadTooLargeError, ValidationError } from '../../src/lib/errors.ts';
import { createEventRegistry } from '../../src/lib/event-registry.ts';
import { createProducerMetrics } from '../../src/lib/metrics.ts';
import { streamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer, type PublishResult } from '../../src/producers/producer.ts';
import { uniqueName } from '../helpers/names.ts';

const registry = createEventRegistry([
  {
    type: 'payment.captured',
    v: 1,
    schema: z.object({ amountMinor: z.number().int().positive(), currency: z.string().length(3) }),
  },
]);

const prefix = uniqueName('ssp');
let redis: Redis;
let other: Redis;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
  other = new Redis(inject('redisUrl'));
});

afterAll(async () => {
  // Only this file's keys: everything under its own unique prefix.
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
  other.disconnect();
});

const payment = (i: number, id = uniqueName(`p${i}`)) => ({
  id,
  type: 'payment.captured',
  data: { amountMinor: 100 + i, currency: 'EUR' },
});

function entryIds(results: PublishResult[]): string[] {
  return results.map((r) => {
    if (r.status === 'rejected') throw r.error;
    return r.entryId;
  });
}

describe('producer against real Redis', () => {
  it('publishes a batch of 10,000 events; every entry reads back and decodes valid', async () => {
    const stream = uniqueName('batch');
    const producer = createProducer({ redis, keyPrefix: prefix, registry });
    const events = Array.from({ length: 10_000 }, (_, i) => payment(i));
    const results = await producer.publishBatch(stream, events);
    expect(results.every((r) => r.status === 'added')).toBe(true);
    const ids = entryIds(results);
    expect(new Set(ids).size).toBe(10_000);

    const key = streamKeys(prefix, stream).stream;
    expect(await redis.xlen(key)).toBe(10_000);
    const entries = await redis.xrange(key, '-', '+');
    expect(entries.map(([id]) => id)).toEqual(ids);
    entries.forEach(([, fields], i) => {
      const decoded = decodeEntry(fields);
      if (!decoded.ok) throw new Error(`entry ${i}: ${decoded.message}`);
      expect(decoded.envelope.id).toBe(events[i]?.id);
      expect(decoded.envelope.key).toBe(events[i]?.id);
      expect(decoded.envelope.v).toBe(1);
      expect(registry.check(decoded.envelope).ok).toBe(true);
    });
  });

  it('adds an id once when published twice, and returns the original entry id', async () => {
    const stream = uniqueName('dup');
    const producer = createProducer({ redis, keyPrefix: prefix, registry });
    const events = Array.from({ length: 500 }, (_, i) => payment(i));
    const first = entryIds(await producer.publishBatch(stream, events));
    const again = await producer.publishBatch(stream, events);
    expect(again.map((r) => r.status)).toEqual(events.map(() => 'duplicate'));
    expect(entryIds(again)).toEqual(first);
    const single = await producer.publish(stream, events[7] as (typeof events)[number]);
    expect(single).toEqual({ status: 'duplicate', id: events[7]?.id, entryId: first[7] });
    expect(await redis.xlen(streamKeys(prefix, stream).stream)).toBe(500);
  });

  it('treats a repeated id inside one batch as a duplicate of its first occurrence', async () => {
    const stream = uniqueName('inbatch');
    const producer = createProducer({ redis, keyPrefix: prefix, registry });
    const a = payment(1);
    const results = await producer.publishBatch(stream, [a, payment(2), { ...a, data: { ...a.data } }]);
    expect(results.map((r) => r.status)).toEqual(['added', 'added', 'duplicate']);
    expect(entryIds(results)[2]).toBe(entryIds(results)[0]);
    expect(await redis.xlen(streamKeys(prefix, stream).stream)).toBe(2);
  });

  it('two producers on separate connections publishing the same ids concurrently add each id once', async () => {
    const stream = uniqueName('race');
    const one = createProducer({ redis, keyPrefix: prefix, registry, chunkSize: 50 });
    const two = createProducer({ redis: other, keyPrefix: prefix, registry, chunkSize: 37 });
    const events = Array.from({ length: 3000 }, (_, i) => payment(i));
    const reversed = [...events].reverse();
    const [a, b] = await Promise.all([one.publishBatch(stream, events), two.publishBatch(stream, reversed)]);
    const bInOrder = [...b].reverse();

    expect(await redis.xlen(streamKeys(prefix, stream).stream)).toBe(3000);
    events.forEach((_, i) => {
      const x = a[i];
      const y = bInOrder[i];
      if (x?.status === 'rejected' || y?.status === 'rejected') throw new Error('unexpected rejection');
      // Exactly one of the two added it; both report the same entry.
      expect([x?.status, y?.status].sort()).toEqual(['added', 'duplicate']);
      expect(x?.entryId).toBe(y?.entryId);
    });
    const entries = await redis.xrange(streamKeys(prefix, stream).stream, '-', '+');
    const seen = entries.map(([, f]) => {
      const d = decodeEntry(f);
      return d.ok ? d.envelope.id : 'undecodable';
    });
    expect(new Set(seen)).toEqual(new Set(events.map((e) => e.id)));
  });

  it('rejects invalid events with every field path, writes nothing for them, and writes the valid ones', async () => {
    const stream = uniqueName('invalid');
    const key = streamKeys(prefix, stream).stream;
    const producer = createProducer({ redis, keyPrefix: prefix, registry });
    await producer.publish(stream, payment(0));
    const before = await redis.xlen(key);

    const bad = {
      id: 'has space',
      type: 'payment.captured',
      ts: 'yesterday',
      data: { amountMinor: -5, currency: 'EURO' },
    };
    const error = await producer.publish(stream, bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const paths = (error as ValidationError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(['data.amountMinor', 'data.currency', 'id', 'ts']);
    expect((error as ValidationError).code).toBe('validation_failed');

    const unknownType = await producer
      .publish(stream, { type: 'refund.issued', data: {} })
      .catch((e: unknown) => e);
    expect((unknownType as ValidationError).reason).toBe('unknown_type');
    const badVersion = await producer
      .publish(stream, { type: 'payment.captured', v: 2, data: {} })
      .catch((e: unknown) => e);
    expect((badVersion as ValidationError).reason).toBe('unsupported_version');
    expect(await redis.xlen(key)).toBe(before);

    const results = await producer.publishBatch(stream, [
      payment(1),
      { type: 'payment.captured', data: { amountMinor: 1.5, currency: 'EUR' } },
      payment(2),
    ]);
    expect(results.map((r) => r.status)).toEqual(['added', 'rejected', 'added']);
    const rejected = results[1];
    if (rejected?.status !== 'rejected') throw new Error('expected a rejection');
    expect(rejected.error.message).toContain('data.amountMinor');
    expect(await redis.xlen(key)).toBe(before + 2);
  });

  it('rejects an event over the size limit before it reaches Redis', async () => {
    const stream = uniqueName('oversize');
    const producer = createProducer({ redis, keyPrefix: prefix, maxPayloadBytes: 4096 });
    const big = { type: 'blob.stored', data: { blob: 'x'.repeat(5000) } };
    const error = await producer.publish(stream, big).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as PayloadTooLargeError).limit).toBe(4096);
    expect((error as PayloadTooLargeError).size).toBeGreaterThan(5000);
    const results = await producer.publishBatch(stream, [big, { type: 'blob.stored', data: { blob: 'x' } }]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'added']);
    expect(await redis.xlen(streamKeys(prefix, stream).stream)).toBe(1);
  });

  it('trims approximately to maxLen when configured, and not at all by default', async () => {
    const trimmed = uniqueName('trim');
    const untrimmed = uniqueName('notrim');
    const events = () => Array.from({ length: 3000 }, (_, i) => ({ type: 'tick', data: { i } }));
    await createProducer({ redis, keyPrefix: prefix, maxLen: 100 }).publishBatch(trimmed, events());
    await createProducer({ redis, keyPrefix: prefix, maxLen: 100, idempotent: false }).publishBatch(
      `${trimmed}_plain`,
      events(),
    );
    await createProducer({ redis, keyPrefix: prefix }).publishBatch(untrimmed, events());
    for (const name of [trimmed, `${trimmed}_plain`]) {
      const length = await redis.xlen(streamKeys(prefix, name).stream);
      // `~` trims whole radix-tree nodes (100 entries by default), so the length stays near, not at, maxLen.
      expect(length).toBeGreaterThanOrEqual(100);
      expect(length).toBeLessThan(400);
    }
    expect(await redis.xlen(streamKeys(prefix, untrimmed).stream)).toBe(3000);
  });

  it('with idempotent: false adds every publish, and sets no dedupe keys', async () => {
    const stream = uniqueName('plain');
    const keys = streamKeys(prefix, stream);
    const producer = createProducer({ redis, keyPrefix: prefix, registry, idempotent: false });
    const event = payment(3);
    const first = await producer.publish(stream, event);
    const second = await producer.publish(stream, event);
    expect(first.status).toBe('added');
    expect(second.status).toBe('added');
    expect(second.entryId).not.toBe(first.entryId);
    expect(await redis.xlen(keys.stream)).toBe(2);
    expect(await redis.exists(keys.dedupe(event.id))).toBe(0);
  });

  it('expires dedupe keys after the window, and counts outcomes in metrics', async () => {
    const stream = uniqueName('window');
    const keys = streamKeys(prefix, stream);
    const metricsRegistry = new Registry();
    const metrics = createProducerMetrics(metricsRegistry);
    const producer = createProducer({ redis, keyPrefix: prefix, registry, dedupeWindowMs: 60_000, metrics });
    const event = payment(4);
    await producer.publishBatch(stream, [event, event, { type: 'payment.captured', data: {} }]);
    const ttl = await redis.pttl(keys.dedupe(event.id));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await redis.get(keys.dedupe(event.id))).toMatch(/^\d+-\d+ [0-9a-f]{64}$/);

    const text = await metricsRegistry.metrics();
    expect(text).toContain(`streamsink_published_total{stream="${stream}",outcome="added"} 1`);
    expect(text).toContain(`streamsink_published_total{stream="${stream}",outcome="duplicate"} 1`);
    expect(text).toContain(`streamsink_published_total{stream="${stream}",outcome="rejected"} 1`);
    expect(text).toContain(`streamsink_publish_duration_seconds_count{stream="${stream}"} 1`);
  });
});
