// The pipeline against streamsink's conformance check: a redelivered batch changes nothing, batch boundaries
// do not matter, a poison line is isolated while its batch-mates commit. Needs a Postgres (DATABASE_URL) where
// it may create and drop schemas.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPipelineConformance } from 'streamsink/testing';
import pipeline from '../orders-pipeline.mjs';

const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const line = (i, orderId, amountMinor) => ({
  id: `line-${i}`,
  type: 'order.line_added',
  key: orderId,
  data: { orderId, amountMinor },
});

test('the orders pipeline passes the conformance check', async () => {
  // Several lines per order, so orders share state across batch boundaries.
  const events = Array.from({ length: 30 }, (_, i) => line(i, `order-${i % 4}`, 100 + i));
  const report = await checkPipelineConformance({
    pipeline,
    databaseUrl,
    events,
    poison: [
      line('negative', 'order-1', -500), // refused by the schema: amounts are positive
      { ...line('wrong-key', 'order-2', 100), key: 'order-3' }, // refused by check: keyed by its order
    ],
    snapshot: async (db) =>
      (await db.query('SELECT order_id, total_minor::text AS total, lines FROM orders ORDER BY order_id'))
        .rows,
  });
  assert.equal(report.ok, true);
  // order-0 holds lines 0, 4, ..., 28: 8 lines of 100 + i.
  assert.deepEqual(report.snapshot[0], { order_id: 'order-0', total: '912', lines: 8 });
});
