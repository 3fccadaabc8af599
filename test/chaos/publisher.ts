import type { Redis } from 'ioredis';
import { createPaymentsRegistry } from '../../src/consumers/pipelines/payments/events.ts';
import type { StreamKeys } from '../../src/lib/redis/keys.ts';
import { createProducer } from '../../src/producers/producer.ts';
import type { BadEntry } from '../helpers/bad-input.ts';
import type { ChaosPlan, PlannedOp } from './plan.ts';

/**
 * Publishes a chaos plan at a steady pace while faults happen. The publisher talks to Redis directly (not
 * through the fault proxy) and holds a gate while a batch is in flight, which a Redis restart waits for: every
 * write's outcome is then known, so the record of what was published is exact. Poison goes in with raw XADD;
 * good events through the SDK with the payments registry; second copies either with a plain XADD (the inbox
 * must absorb them) or through the idempotent SDK (deduplicated at publish).
 */
export interface PublishRecord {
  /** Entry id -> the poison it holds. */
  poisonEntries: Map<string, BadEntry>;
  /** Stream entries that hold good events (first copies and plain second copies). */
  goodEntries: number;
  /** Second copies the SDK reported as duplicates (not added). */
  sdkDeduplicated: number;
  /** Second copies the SDK added anyway (dedupe window or key lost): the inbox must absorb them. */
  sdkAddedAgain: number;
  finishedAt?: number;
}

export interface Publisher {
  record: PublishRecord;
  /** Resolves when everything is published. */
  done: Promise<void>;
  /** Run `fn` while no batch is in flight. */
  paused<T>(fn: () => Promise<T>): Promise<T>;
  /** Share of ops published so far. */
  progress(): number;
}

export interface PublisherOptions {
  redis: Redis;
  keys: StreamKeys;
  plan: ChaosPlan;
  /** Spread publishing over this many ms. */
  spreadMs: number;
  batchSize?: number;
  /**
   * Share of the plan published at once, before pacing starts: a backlog, so workers are busy (holding
   * entries) when the first faults hit. Default 0.3.
   */
  burstShare?: number;
  log(line: string): void;
}

export function startPublisher(options: PublisherOptions): Publisher {
  const { redis, keys, plan } = options;
  const batchSize = options.batchSize ?? 250;
  const record: PublishRecord = {
    poisonEntries: new Map(),
    goodEntries: 0,
    sdkDeduplicated: 0,
    sdkAddedAgain: 0,
  };
  const checked = createProducer({ redis, registry: createPaymentsRegistry() });
  const plain = createProducer({ redis, registry: createPaymentsRegistry(), idempotent: false });
  let gate: Promise<unknown> = Promise.resolve();
  let published = 0;

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = gate.then(fn, fn);
    gate = run.catch(() => {});
    return run;
  };

  async function publishBatch(ops: PlannedOp[]): Promise<void> {
    type EventOp = Extract<PlannedOp, { event: unknown }>;
    const sdk = ops.filter((o): o is EventOp => o.kind === 'good' || o.kind === 'again-sdk');
    const again = ops.filter((o): o is EventOp => o.kind === 'again-plain');
    const poison = ops.flatMap((o) => (o.kind === 'poison' ? [o.entry] : []));
    if (sdk.length > 0) {
      const results = await withRetry(() =>
        checked.publishBatch(
          keys.name,
          sdk.map((o) => o.event),
        ),
      );
      results.forEach((r, i) => {
        const op = sdk[i] as PlannedOp;
        if (r.status === 'rejected') throw new Error(`the SDK rejected a good event: ${r.error.message}`);
        if (op.kind === 'good') {
          // A retried batch reports what the first attempt added as duplicates: still one entry.
          record.goodEntries++;
        } else if (r.status === 'duplicate') record.sdkDeduplicated++;
        else {
          record.sdkAddedAgain++;
          record.goodEntries++;
        }
      });
    }
    if (again.length > 0) {
      // Not retried: a plain XADD retried after a lost reply adds a third copy, harmless but uncounted.
      const results = await plain.publishBatch(
        keys.name,
        again.map((o) => o.event),
      );
      for (const r of results) if (r.status === 'added') record.goodEntries++;
    }
    if (poison.length > 0) {
      const pipe = redis.pipeline();
      for (const entry of poison) pipe.xadd(keys.stream, '*', ...entry.fields);
      const replies = (await pipe.exec()) ?? [];
      replies.forEach(([error, id], i) => {
        if (error) throw new Error(`poison XADD failed, the record is no longer exact: ${error.message}`);
        record.poisonEntries.set(String(id), poison[i] as BadEntry);
      });
    }
  }

  const done = (async () => {
    const started = Date.now();
    const total = plan.ops.length;
    const burst = Math.floor(total * (options.burstShare ?? 0.3));
    for (let i = 0; i < total; i += batchSize) {
      const ops = plan.ops.slice(i, i + batchSize);
      await exclusive(() => publishBatch(ops));
      published = i + ops.length;
      if (published <= burst) continue;
      const due = started + (options.spreadMs * (published - burst)) / (total - burst);
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    record.finishedAt = Date.now();
    options.log(`publisher: ${total} ops published in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  })();

  return { record, done, paused: exclusive, progress: () => published / plan.ops.length };
}

/** Idempotent publishes are safe to retry: a Redis hiccup must not end the run. */
async function withRetry<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, 250 * attempt));
    }
  }
}
