import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recordInInbox, recordStatement } from '../../src/consumers/inbox.ts';
import type { AcceptedItem } from '../../src/consumers/types.ts';
import { type Envelope, encodeEnvelope } from '../../src/lib/envelope.ts';
import { migrate } from '../../src/lib/migrations.ts';
import { createPool, type Pool } from '../../src/lib/pg.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';

let schema: TestSchema;
let pool: Pool;

beforeAll(async () => {
  schema = await createTestSchema(inject('databaseUrl'), 'inboxrec');
  pool = createPool({ url: schema.url, poolSize: 2 });
  await migrate(pool);
});

afterAll(async () => {
  await pool?.end();
  await schema?.drop();
});

let seq = 0;
function item(id: string, data: Record<string, unknown>, proved = true): AcceptedItem {
  seq += 1;
  const envelope: Envelope = { id, type: 'thing.happened', v: 1, key: 'k', ts: '2026-12-01T10:00:00Z', data };
  const out: AcceptedItem = {
    entry: { id: `${seq}-0`, fields: encodeEnvelope(envelope), deliveryCount: 1 },
    envelope,
  };
  if (proved) {
    out.inputHash = 'ab'.repeat(32);
    out.proof = `${(seq % 10).toString()}f`.repeat(32);
  }
  return out;
}

async function record(pipeline: string, items: AcceptedItem[]) {
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    const verdict = await recordInInbox(db, pipeline, 's', items, '3');
    await db.query('COMMIT');
    return {
      fresh: verdict.fresh.map((i) => i.envelope.id),
      duplicates: verdict.duplicates.map((i) => i.envelope.id),
      conflicts: verdict.conflicts.map((i) => i.envelope.id),
    };
  } finally {
    db.release();
  }
}

async function rows(pipeline: string) {
  const { rows } = await pool.query(
    `SELECT event_id, entry_id, stream, event_type, pipeline_version, encode(content_hash, 'hex') AS content_hash,
       encode(input_hash, 'hex') AS input_hash, encode(proof, 'hex') AS proof
     FROM streamsink_inbox WHERE pipeline = $1 ORDER BY event_id`,
    [pipeline],
  );
  return rows;
}

describe('recordInInbox', () => {
  it('records a batch in one text parameter, and sorts a redelivery into duplicates and conflicts', async () => {
    const first = [item('a-1', { n: 1 }), item('a-2', { n: 2 }, false), item('a-3', { n: 3 })];
    expect(recordStatement('p1', 's', first, '3').values).toHaveLength(4);
    expect(await record('p1', first)).toEqual({
      fresh: ['a-1', 'a-2', 'a-3'],
      duplicates: [],
      conflicts: [],
    });
    const stored = await rows('p1');
    expect(stored.map((r) => [r.event_id, r.entry_id, r.stream, r.event_type, r.pipeline_version])).toEqual(
      first.map((i) => [i.envelope.id, i.entry.id, 's', 'thing.happened', '3']),
    );
    expect(stored.map((r) => [r.content_hash, r.input_hash, r.proof])).toEqual(
      first.map((i) => [i.contentHash, i.inputHash ?? null, i.proof ?? null]),
    );

    const again = [
      item('a-0', { n: 0 }),
      item('a-1', { n: 1 }),
      item('a-2', { n: 22 }),
      item('a-4', { n: 4 }),
    ];
    expect(await record('p1', again)).toEqual({
      fresh: ['a-0', 'a-4'],
      duplicates: ['a-1'],
      conflicts: ['a-2'],
    });
  });

  it('falls back to parallel arrays for ids holding a separator character, with the same outcome', async () => {
    const odd = ['b\u0001x', 'b\u0002y'];
    const first = [
      item(odd[0] as string, { n: 1 }),
      item('b-2', { n: 2 }, false),
      item(odd[1] as string, { n: 3 }),
    ];
    expect(recordStatement('p2', 's', first, '3').values).toHaveLength(9);
    expect(await record('p2', first)).toEqual({
      fresh: [odd[0], 'b-2', odd[1]],
      duplicates: [],
      conflicts: [],
    });
    const stored = await rows('p2');
    expect(stored.map((r) => r.event_id).sort()).toEqual([odd[0], odd[1], 'b-2'].sort());
    expect(stored.find((r) => r.event_id === 'b-2')).toMatchObject({ input_hash: null, proof: null });
    expect(await record('p2', [item(odd[0] as string, { n: 1 }), item(odd[1] as string, { n: 9 })])).toEqual({
      fresh: [],
      duplicates: [odd[0]],
      conflicts: [odd[1]],
    });
  });
});
