// The orders pipeline: a running total per order, applied from `order.line_added` events.
//
// A running total is NOT idempotent (adding a line twice doubles it), so this pipeline leaves `idempotent`
// off: streamsink records every event in its inbox in the same transaction as these effects, and `apply`
// only ever receives events that are new for this pipeline. Redeliveries, a worker killed mid-batch and a
// file published twice change nothing.
import { readFileSync } from 'node:fs';
import { definePipeline, PoisonMessageError } from 'streamsink';
import { z } from 'zod';

const lineAdded = z.object({
  orderId: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/),
  // Minor units (cents). zod's int() stays within safe integers, so the sum is exact in Postgres' bigint.
  amountMinor: z.number().int().positive(),
});

// One statement per batch: Postgres sums the lines per order and adds them to what the row holds. Rows are
// written in order_id order so two workers never lock the same rows in opposite orders (no deadlock).
const ADD_LINES = `
INSERT INTO orders (order_id, total_minor, lines)
SELECT order_id, sum(amount_minor), count(*)
FROM unnest($1::text[], $2::bigint[]) AS t(order_id, amount_minor)
GROUP BY order_id
ORDER BY order_id COLLATE "C"
ON CONFLICT (order_id) DO UPDATE SET
  total_minor = orders.total_minor + EXCLUDED.total_minor,
  lines = orders.lines + EXCLUDED.lines,
  updated_at = now()`;

export default definePipeline({
  name: 'orders',
  version: '1',
  events: [{ type: 'order.line_added', v: 1, schema: lineAdded }],
  migrations: [
    {
      name: '0001-orders',
      sql: readFileSync(new URL('./migrations/0001-orders.sql', import.meta.url), 'utf8'),
    },
  ],
  // Beyond the schema: events of one order share its key, so one order's lines stay in order.
  check(event) {
    if (event.key !== event.data.orderId)
      throw new PoisonMessageError('schema_violation', 'key: an order event is keyed by its data.orderId');
  },
  async apply(tx, events) {
    await tx.query(ADD_LINES, [
      events.map((e) => e.data.orderId),
      events.map((e) => String(e.data.amountMinor)),
    ]);
  },
});
