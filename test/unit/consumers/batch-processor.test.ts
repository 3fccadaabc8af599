import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createBatchProcessor, type SinkHealth } from '../../../src/consumers/batch-processor.ts';
import type { StreamClient } from '../../../src/consumers/stream-client.ts';
import type {
  AcceptedItem,
  BatchSink,
  DeadLetterRecord,
  DeadLetterResult,
  Pipeline,
  SinkResult,
  StreamEntry,
} from '../../../src/consumers/types.ts';
import { encodeEnvelope } from '../../../src/lib/envelope.ts';
import { PoisonMessageError, TransientError } from '../../../src/lib/errors.ts';

function entry(n: number, deliveryCount = 1, fields?: string[]): StreamEntry {
  return {
    id: `1700000000000-${n}`,
    deliveryCount,
    fields:
      fields ??
      encodeEnvelope({
        id: `e${n}`,
        type: 't.x',
        v: 1,
        key: 'k',
        ts: '2026-11-21T10:00:00.000Z',
        data: { n },
      }),
  };
}

const pipeline: Pipeline = {
  name: 'test',
  version: '1',
  registry: undefined,
  accept: (envelope) =>
    envelope.data.n === 13
      ? { ok: false, error: new PoisonMessageError('schema_violation', 'unlucky') }
      : { ok: true, envelope },
  apply: async () => {},
};

const ok = (items: readonly AcceptedItem[]): SinkResult => ({
  applied: [...items],
  duplicates: [],
  poison: [],
  failed: [],
});

interface SetupOptions {
  ackFailures?: number;
  giveUp?: AbortSignal;
  /** Replaces the stand-in dead-letterer's answer (it moves everything by default). */
  deadLetter?: (records: readonly DeadLetterRecord[]) => Promise<DeadLetterResult>;
}

function setup(sink: BatchSink, options: SetupOptions = {}) {
  const events: string[] = [];
  const acks: string[][] = [];
  const dead: DeadLetterRecord[] = [];
  let ackFailures = options.ackFailures ?? 0;
  const client = {
    async ack(ids: readonly string[]) {
      if (ackFailures-- > 0) {
        events.push('ack-failed');
        throw new Error('connection lost');
      }
      events.push('ack');
      acks.push([...ids]);
      return ids.length;
    },
  } as unknown as StreamClient;
  let failing = false;
  const health: SinkHealth = {
    get failing() {
      return failing;
    },
    set(v) {
      if (v !== failing) events.push(v ? 'failing' : 'healthy');
      failing = v;
    },
  };
  const processor = createBatchProcessor({
    client,
    sink: {
      async write(items) {
        events.push(`write:${items.length}`);
        return await sink.write(items);
      },
    },
    pipeline,
    deadLetterer: {
      async deadLetter(records) {
        events.push('dead-letter');
        if (options.deadLetter) return await options.deadLetter(records);
        dead.push(...records);
        return { moved: records.length, skipped: 0 };
      },
    },
    config: { maxDeliveries: 3, maxPayloadBytes: 1024 * 1024, backoffBaseMs: 1, backoffMaxMs: 2 },
    logger: pino({ level: 'silent' }),
    metrics: undefined,
    labels: { stream: 's', group: 'g', pipeline: 'test' },
    sinkHealth: health,
    giveUp: options.giveUp ?? new AbortController().signal,
    now: Date.now,
    random: () => 0.5,
  });
  return { processor, events, acks, dead };
}

describe('batch processor', () => {
  it('writes once and acknowledges the whole batch with one XACK after the write returned', async () => {
    const t = setup({ write: async (items) => ok(items) });
    const result = await t.processor.process([entry(1), entry(2), entry(3)]);
    expect(t.events).toEqual(['write:3', 'ack']);
    expect(t.acks).toEqual([['1700000000000-1', '1700000000000-2', '1700000000000-3']]);
    expect(result).toEqual({ acked: 3, duplicates: 0, deadLettered: 0, leftPending: 0 });
  });

  it('acknowledges duplicates too, and counts them apart', async () => {
    const t = setup({
      write: async (items) => ({ ...ok(items.slice(1)), duplicates: [items[0] as AcceptedItem] }),
    });
    const result = await t.processor.process([entry(1), entry(2)]);
    expect(t.acks[0]?.sort()).toEqual(['1700000000000-1', '1700000000000-2']);
    expect(result).toMatchObject({ acked: 1, duplicates: 1 });
  });

  it('dead-letters over-delivered, undecodable and refused entries without writing them', async () => {
    const t = setup({ write: async (items) => ok(items) });
    await t.processor.process([entry(1, 4), entry(2, 1, ['id', 'x']), entry(13), entry(4)]);
    expect(t.events).toEqual(['write:1', 'ack', 'dead-letter']);
    expect(t.dead.map((d) => [d.entry.id, d.reason])).toEqual([
      ['1700000000000-1', 'max_deliveries_exceeded'],
      ['1700000000000-2', 'malformed_envelope'],
      ['1700000000000-13', 'schema_violation'],
    ]);
    expect(t.dead[2]?.eventId).toBe('e13');
  });

  it('retries a transient sink failure until it succeeds, marking the sink failing meanwhile; never dead-letters', async () => {
    let calls = 0;
    const t = setup({
      write: async (items) => {
        if (++calls < 4) throw new TransientError('postgres down');
        return ok(items);
      },
    });
    const result = await t.processor.process([entry(1), entry(2)]);
    expect(t.events).toEqual(['write:2', 'failing', 'write:2', 'write:2', 'write:2', 'healthy', 'ack']);
    expect(result).toEqual({ acked: 2, duplicates: 0, deadLettered: 0, leftPending: 0 });
  });

  it('a non-transient failure after a transient one clears the failing mark, so reading does not stay paused', async () => {
    let calls = 0;
    const t = setup({
      write: async () => {
        if (++calls === 1) throw new TransientError('postgres down');
        throw new Error('bug');
      },
    });
    const result = await t.processor.process([entry(1)]);
    expect(t.events).toEqual(['write:1', 'failing', 'write:1', 'healthy']);
    expect(result.leftPending).toBe(1);
  });

  it('gives up on shutdown: a failing batch stays pending, nothing acknowledged or dead-lettered', async () => {
    const giveUp = new AbortController();
    const t = setup(
      {
        write: async () => {
          giveUp.abort();
          throw new TransientError('postgres down');
        },
      },
      { giveUp: giveUp.signal },
    );
    const result = await t.processor.process([entry(1), entry(2)]);
    expect(t.acks).toEqual([]);
    expect(t.dead).toEqual([]);
    expect(result.leftPending).toBe(2);
  });

  it('retries a failed XACK (Redis down) after the commit', async () => {
    const t = setup({ write: async (items) => ok(items) }, { ackFailures: 2 });
    const result = await t.processor.process([entry(1)]);
    expect(t.events).toEqual(['write:1', 'ack-failed', 'ack-failed', 'ack']);
    expect(result.acked).toBe(1);
  });

  it('dead-letters isolated poison and leaves isolated unknown failures pending while deliveries remain', async () => {
    const t = setup({
      write: async (items) => {
        const [a, b, c, d] = items as AcceptedItem[];
        return {
          applied: [a as AcceptedItem],
          duplicates: [],
          poison: [
            { item: b as AcceptedItem, error: new PoisonMessageError('data_error', 'numeric overflow') },
          ],
          failed: [
            { item: c as AcceptedItem, error: new Error('unknown') },
            { item: d as AcceptedItem, error: new Error('unknown') },
          ],
        };
      },
    });
    const result = await t.processor.process([entry(1), entry(2), entry(3, 1), entry(4, 3)]);
    expect(t.acks).toEqual([['1700000000000-1']]);
    expect(t.dead.map((d) => [d.entry.id, d.reason])).toEqual([
      ['1700000000000-2', 'data_error'],
      ['1700000000000-4', 'max_deliveries_exceeded'],
    ]);
    expect(result).toEqual({ acked: 1, duplicates: 0, deadLettered: 2, leftPending: 1 });
  });

  it('does not count poison as dead-lettered when the dead-letter move meets NOGROUP: it is left pending', async () => {
    const groupGone = new Error("NOGROUP No such key 's' or consumer group 'g'");
    const t = setup(
      { write: async (items) => ok(items) },
      {
        deadLetter: async () => {
          throw groupGone;
        },
      },
    );
    const poison = entry(5, 1, ['id', 'e5', 'nonsense', 'x']);
    const result = await t.processor.process([entry(1), poison]);
    expect(result).toEqual({ acked: 1, duplicates: 0, deadLettered: 0, leftPending: 1 });
    expect(t.events).toEqual(['write:1', 'ack', 'dead-letter']); // not retried: the group is gone
  });

  it('counts only the records this worker moved: not those the group lost, nor those finished elsewhere', async () => {
    const t = setup(
      { write: async (items) => ok(items) },
      {
        deadLetter: async (records) => ({
          moved: 1,
          skipped: 1,
          statuses: records.map((_, i) => (['moved', 'skipped', 'group_gone'] as const)[i % 3] ?? 'moved'),
        }),
      },
    );
    const bad = (n: number) => entry(n, 1, ['id', `e${n}`]);
    const result = await t.processor.process([bad(1), bad(2), bad(3)]);
    expect(result).toEqual({ acked: 0, duplicates: 0, deadLettered: 1, leftPending: 1 });
  });

  it('counts records a retried move finds already moved: its own lost first attempt moved them', async () => {
    let calls = 0;
    const t = setup(
      { write: async (items) => ok(items) },
      {
        deadLetter: async (records) => {
          if (++calls === 1) throw new Error('connection reset'); // the script ran, the reply was lost
          return { moved: 0, skipped: records.length, statuses: records.map(() => 'skipped' as const) };
        },
      },
    );
    const result = await t.processor.process([entry(1, 1, ['id', 'e1']), entry(2, 1, ['id', 'e2'])]);
    expect(result).toEqual({ acked: 0, duplicates: 0, deadLettered: 2, leftPending: 0 });
  });
});
