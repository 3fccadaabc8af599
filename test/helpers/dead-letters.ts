import type { Redis } from 'ioredis';
import { createDeadLetterer } from '../../src/consumers/dead-letter.ts';
import type { DeadLetterRecord, StreamEntry } from '../../src/consumers/types.ts';
import { type StreamKeys, streamKeys } from '../../src/lib/redis/keys.ts';
import { uniqueName } from './names.ts';

export interface SeedBad {
  fields: string[];
  reason: DeadLetterRecord['reason'];
  type?: string;
  eventId?: string;
  /** Default `bad <i>`. */
  errorMessage?: string;
}

/**
 * A stream under a fresh key prefix whose `bad` entries went through the real dead-letterer (one call each, so
 * dead-letter ids are in `bad`'s order), plus `good` entries acknowledged normally.
 */
export async function seedDeadLetters(
  redis: Redis,
  bad: readonly SeedBad[],
  options: { stream?: string; good?: number; prefix?: string } = {},
): Promise<{ prefix: string; stream: string; keys: StreamKeys }> {
  const prefix = options.prefix ?? uniqueName('dlq');
  const stream = options.stream ?? 'payments';
  const keys = streamKeys(prefix, stream);
  const good = options.good ?? 1;
  for (let i = 0; i < good; i++)
    await redis.xadd(
      keys.stream,
      '*',
      ...envelopeFields(`good-${i}`, 'payment.captured', { currency: 'EUR' }),
    );
  for (const b of bad) await redis.xadd(keys.stream, '*', ...b.fields);
  await redis.xgroup('CREATE', keys.stream, 'g', '0');
  const read = (await redis.xreadgroup('GROUP', 'g', 'c', 'STREAMS', keys.stream, '>')) as Array<
    [string, Array<[string, string[]]>]
  >;
  const entries: StreamEntry[] = (read[0]?.[1] ?? []).map(([id, fields]) => ({
    id,
    fields,
    deliveryCount: 1,
  }));
  if (good > 0) await redis.xack(keys.stream, 'g', ...entries.slice(0, good).map((e) => e.id));
  const dl = createDeadLetterer({
    redis,
    keys,
    group: 'g',
    consumer: 'c',
    pipelineName: 'payments',
    pipelineVersion: '1',
  });
  for (const [i, b] of bad.entries()) {
    await dl.deadLetter([
      {
        entry: entries[good + i] as StreamEntry,
        reason: b.reason,
        errorClass: 'PoisonMessageError',
        errorMessage: b.errorMessage ?? `bad ${i}`,
        ...(b.type ? { eventType: b.type } : {}),
        ...(b.eventId ? { eventId: b.eventId } : {}),
      },
    ]);
  }
  return { prefix, stream, keys };
}

export function envelopeFields(id: string, type: string, data: Record<string, unknown>): string[] {
  return [
    'id',
    id,
    'type',
    type,
    'v',
    '1',
    'key',
    'k',
    'ts',
    '2026-11-21T10:00:00.000Z',
    'data',
    JSON.stringify(data),
  ];
}
