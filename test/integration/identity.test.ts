import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPgSink } from '../../src/consumers/pg-sink.ts';
import { createPipeline } from '../../src/consumers/pipelines/index.ts';
import type { AcceptedItem, BatchSink } from '../../src/consumers/types.ts';
import { type Envelope, encodeEnvelope } from '../../src/lib/envelope.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { createPool, type Pool } from '../../src/lib/pg.ts';
import { uniqueName } from '../helpers/names.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';

/**
 * The identity rule (docs/postgres.md#identity): dedupe state belongs to the pipeline, whatever the group
 * name; the archive keeps every stream's event; the same id reaching one pipeline twice is a duplicate only
 * with the same content, and otherwise an `id_conflict` dead letter, never a silent drop.
 */
const CURRENCIES = ['EUR', 'USD', 'GBP'];
let schema: TestSchema;
let db: Pool;

beforeAll(async () => {
  schema = await createTestSchema(inject('databaseUrl'), 'ident');
  db = createPool({ url: schema.url, poolSize: 6 });
  await migrate(db);
});

afterAll(async () => {
  await db.end();
  await schema.drop();
});

let seq = 0;
function item(envelope: Envelope): AcceptedItem {
  seq += 1;
  return { entry: { id: `${seq}-0`, fields: encodeEnvelope(envelope), deliveryCount: 1 }, envelope };
}

function capture(
  id: string,
  prefix: string,
  amountMinor: number,
  extra: Partial<Envelope> = {},
): AcceptedItem {
  const paymentId = `${prefix}-pay`;
  return item({
    id,
    type: 'payment.captured',
    v: 1,
    key: paymentId,
    ts: '2026-11-21T10:00:00.000Z',
    data: { paymentId, accountId: `${prefix}-acct`, amountMinor, currency: 'EUR' },
    ...extra,
  });
}

function sink(pipeline: 'payments' | 'event-log', stream: string, group = 'streamsink'): BatchSink {
  return createPgSink({
    pool: db,
    pipeline: createPipeline(pipeline, { currencies: CURRENCIES }),
    stream,
    group,
  });
}

async function balance(prefix: string): Promise<bigint | undefined> {
  const { rows } = await db.query<{ b: string }>(
    'SELECT balance_minor AS b FROM account_balances WHERE account_id = $1',
    [`${prefix}-acct`],
  );
  return rows[0] ? BigInt(rows[0].b) : undefined;
}

async function archived(id: string): Promise<string[]> {
  const { rows } = await db.query<{ stream: string }>(
    'SELECT stream FROM event_log WHERE event_id = $1 ORDER BY stream',
    [id],
  );
  return rows.map((r) => r.stream);
}

describe('event identity', () => {
  it('never lets one pipeline drop an event because another pipeline applied its id (same group name)', async () => {
    const prefix = uniqueName('x');
    const id = `${prefix}-evt`;
    // An archive worker on the audit stream and a payments worker on the payments stream, both group `streamsink`.
    const audit = await sink('event-log', `${prefix}-audit`).write([capture(id, prefix, 700)]);
    expect(audit.applied).toHaveLength(1);
    const pay = await sink('payments', `${prefix}-payments`).write([capture(id, prefix, 700)]);
    expect(pay.applied).toHaveLength(1);
    expect(pay.duplicates).toHaveLength(0);
    expect(await balance(prefix)).toBe(700n);
    expect(await archived(id)).toEqual([`${prefix}-audit`]);
  });

  it("archives every stream's event when two streams carry one id", async () => {
    const prefix = uniqueName('a');
    const id = `${prefix}-evt`;
    await sink('event-log', `${prefix}-one`, uniqueName('g')).write([capture(id, prefix, 1)]);
    await sink('event-log', `${prefix}-two`, uniqueName('g')).write([capture(id, prefix, 2)]);
    expect(await archived(id)).toEqual([`${prefix}-one`, `${prefix}-two`]);
  });

  it('applies one pipeline once across streams and groups when the content is the same', async () => {
    const prefix = uniqueName('s');
    const id = `${prefix}-evt`;
    await sink('payments', `${prefix}-one`, uniqueName('g')).write([capture(id, prefix, 500)]);
    // Same content, serialised in another key order and published at another time, on another stream and group.
    const again = capture(id, prefix, 500, { ts: '2026-11-22T00:00:00.000Z' });
    const d = again.envelope.data as Record<string, unknown>;
    again.envelope = {
      ...again.envelope,
      data: {
        currency: d.currency,
        amountMinor: d.amountMinor,
        accountId: d.accountId,
        paymentId: d.paymentId,
      },
    };
    const second = await sink('payments', `${prefix}-two`, uniqueName('g')).write([again]);
    expect(second.applied).toHaveLength(0);
    expect(second.duplicates).toEqual([again]);
    expect(second.poison).toHaveLength(0);
    expect(await balance(prefix)).toBe(500n);
  });

  it('dead-letters the same id with other content as id_conflict, and applies nothing of it', async () => {
    const prefix = uniqueName('c');
    const id = `${prefix}-evt`;
    await sink('payments', `${prefix}-one`).write([capture(id, prefix, 500)]);
    const other = capture(id, prefix, 9999);
    const neighbour = capture(`${prefix}-n`, prefix, 1);
    const result = await sink('payments', `${prefix}-two`).write([neighbour, other]);
    expect(result.applied).toEqual([neighbour]);
    expect(result.duplicates).toHaveLength(0);
    expect(result.poison.map((p) => [p.item, p.error.reason])).toEqual([[other, 'id_conflict']]);
    expect(await balance(prefix)).toBe(501n);
  });

  it('tells a same-content repeat from a conflicting one inside one batch', async () => {
    const prefix = uniqueName('b');
    const id = `${prefix}-evt`;
    const first = capture(id, prefix, 40);
    const repeat = capture(id, prefix, 40);
    const conflicting = capture(id, prefix, 41);
    const result = await sink('payments', `${prefix}-s`).write([first, repeat, conflicting]);
    expect(result.applied).toEqual([first]);
    expect(result.duplicates).toEqual([repeat]);
    expect(result.poison.map((p) => [p.item, p.error.reason])).toEqual([[conflicting, 'id_conflict']]);
    expect(await balance(prefix)).toBe(40n);
  });

  it('dead-letters an archive redelivery with other content as id_conflict and keeps its batch-mates', async () => {
    const prefix = uniqueName('l');
    const stream = `${prefix}-audit`;
    await sink('event-log', stream).write([capture(`${prefix}-evt`, prefix, 1)]);
    const batch = Array.from({ length: 20 }, (_, i) => capture(`${prefix}-m${i}`, prefix, i + 1));
    const changed = capture(`${prefix}-evt`, prefix, 2);
    batch.splice(7, 0, changed);
    const result = await sink('event-log', stream).write(batch);
    expect(result.poison.map((p) => [p.item, p.error.reason])).toEqual([[changed, 'id_conflict']]);
    expect(result.applied).toHaveLength(20);
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM event_log WHERE stream = $1 AND payload->>'amountMinor' = '1' AND event_id = $2",
      [stream, `${prefix}-evt`],
    );
    expect(rows[0]?.n).toBe(1);
  });
});
