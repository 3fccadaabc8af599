import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Effect, foldEffects, type TableSpec } from '../../src/consumers/decide/effects.ts';
import { upsertText, writeFolded } from '../../src/consumers/decide/upsert-sql.ts';
import { createPool, type Pool } from '../../src/lib/pg.ts';
import { createTestSchema, type TestSchema } from '../helpers/pg.ts';

let schema: TestSchema;
let pool: Pool;

const TABLES = {
  things: {
    key: ['id', 'part'],
    merge: { total: 'add', flag: 'set', label: 'set', code: 'keep-first', price: 'max', at: 'min' },
    touch: ['updated_at'],
  },
} as const satisfies Record<string, TableSpec>;

beforeAll(async () => {
  schema = await createTestSchema(inject('databaseUrl'), 'upstext');
  pool = createPool({ url: schema.url, poolSize: 2 });
  await pool.query(`CREATE TABLE things (
    id text NOT NULL, part smallint NOT NULL, total bigint NOT NULL, flag boolean, label text,
    code varchar(4), price numeric(10,2) NOT NULL, at timestamptz NOT NULL, updated_at timestamptz,
    PRIMARY KEY (id, part))`);
});

afterAll(async () => {
  await pool?.end();
  await schema?.drop();
});

function thing(id: string, values: Partial<Record<string, Effect['values'][string]>>, part = 1): Effect {
  return {
    table: 'things',
    key: { id, part },
    values: {
      total: 1,
      flag: true,
      label: 'x',
      code: 'c',
      price: '1.00',
      at: '2026-12-01T00:00:00Z',
      ...values,
    },
  };
}

async function write(effects: Effect[]): Promise<void> {
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    await writeFolded(db, foldEffects(effects, TABLES), new Map());
    await db.query('COMMIT');
  } finally {
    db.release();
  }
}

async function read(id: string) {
  const { rows } = await pool.query(
    `SELECT id, part, total::text, flag, label, code, price::text, at FROM things WHERE id = $1 ORDER BY part`,
    [id],
  );
  return rows;
}

describe('the decide upsert as one text parameter', () => {
  it('writes nulls, booleans, bigints, empty and quoting strings, numerics and times as the array form does', async () => {
    const big = 2n ** 62n;
    const effects = [
      thing('a', { total: big, flag: null, label: '', code: 'abcdef', price: '2.345' }),
      thing('a', { total: 3, label: 'q"uo\\te, {x}', price: '1.5', at: '2026-11-30T23:00:00+01:00' }),
      thing('a', { flag: false, label: null, at: '2026-12-02T00:00:00Z' }, 2),
    ];
    expect(upsertText(foldEffects(effects, TABLES)[0] as never)).toBeTypeOf('string');
    await write(effects);
    const viaText = await read('a');
    // The same rows under another id, forced through the array form by a separator in one string.
    const forced: Effect[] = effects.map((e) => ({ ...e, key: { ...e.key, id: 'b' } }));
    forced.push(thing('b', { label: 'has\u0001separator' }, 3));
    expect(upsertText(foldEffects(forced, TABLES)[0] as never)).toBeUndefined();
    await write(forced);
    const viaArrays = (await read('b')).slice(0, 2).map((r) => ({ ...r, id: 'a' }));
    expect(viaText).toEqual(viaArrays);
    expect(viaText[0]).toMatchObject({
      total: (big + 3n).toString(),
      flag: true,
      label: 'q"uo\\te, {x}',
      code: 'abcd',
      price: '2.35',
    });
    expect(viaText[1]).toMatchObject({ flag: false, label: null });
    expect((await read('b'))[2]).toMatchObject({ label: 'has\u0001separator' });
    // A second write merges into the stored rows by the same rules.
    await write([thing('a', { total: -1, flag: null, label: 'again', code: 'zz', price: '9' })]);
    expect((await read('a'))[0]).toMatchObject({
      total: (big + 2n).toString(),
      flag: null,
      label: 'again',
      code: 'abcd',
      price: '9.00',
    });
  });

  it('prepares each statement once per connection, named per scope and statement text', async () => {
    const db = await pool.connect();
    try {
      const cache = new Map();
      const batches = [[thing('p1', {})], [thing('p2', {})], [thing('p3', { label: 'sep\u0001' })]];
      for (const effects of batches) {
        await db.query('BEGIN');
        await writeFolded(db, foldEffects(effects, TABLES), cache);
        await db.query('COMMIT');
      }
      const { rows } = await db.query<{ name: string }>(
        `SELECT name FROM pg_prepared_statements WHERE name LIKE 'streamsink-decide-%' ORDER BY name`,
      );
      // The text form (twice, parsed once) and the array form (the separator), both under the table's stem.
      expect(rows.map((r) => r.name.slice(-2))).toEqual(['-a', '-t']);
      expect(new Set(rows.map((r) => r.name.slice(0, -2)))).toEqual(
        new Set([cache.get('\u0000things').name]),
      );
      expect((await read('p2'))[0]).toMatchObject({ label: 'x' });
      const shadow = new Map();
      await db.query('BEGIN');
      await writeFolded(db, foldEffects([thing('p4', {})], TABLES), shadow, 'a-shadow-schema');
      await db.query('ROLLBACK');
      expect(shadow.get('a-shadow-schema\u0000things').name).not.toBe(cache.get('\u0000things').name);
    } finally {
      db.release();
    }
  });

  it('takes the array form for a row whose text would be empty and for the null marker in a string', () => {
    const keyOnly = { k: { key: ['id'], merge: {} } } as const satisfies Record<string, TableSpec>;
    expect(
      upsertText(foldEffects([{ table: 'k', key: { id: '' }, values: {} }], keyOnly)[0] as never),
    ).toBeUndefined();
    expect(upsertText(foldEffects([{ table: 'k', key: { id: 'x' }, values: {} }], keyOnly)[0] as never)).toBe(
      'x',
    );
    expect(
      upsertText(foldEffects([{ table: 'k', key: { id: '\u0003' }, values: {} }], keyOnly)[0] as never),
    ).toBeUndefined();
  });
});
