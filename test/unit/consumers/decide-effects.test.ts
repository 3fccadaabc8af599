import { describe, expect, it } from 'vitest';
import { checkEffects } from '../../../src/consumers/decide/check-effects.ts';
import {
  compareCodePoints,
  compareValues,
  type Effect,
  foldEffects,
  mergeValues,
  type TableSpec,
} from '../../../src/consumers/decide/effects.ts';
import { checkTablesSpec } from '../../../src/consumers/decide/tables-spec.ts';
import { ruleExpression, upsertParams, upsertSql } from '../../../src/consumers/decide/upsert-sql.ts';
import { definePipeline } from '../../../src/consumers/define-pipeline.ts';
import { isPoisonError } from '../../../src/lib/errors.ts';

const PAYMENTS: Record<string, TableSpec> = {
  payments: {
    key: ['payment_id'],
    merge: {
      account_id: 'keep-first',
      status_rank: 'max',
      amount_minor: { maxBy: ['status_rank'] },
      note: 'set',
      low: 'min',
    },
    touch: ['updated_at'],
  },
  balances: { key: ['account_id', 'currency'], merge: { balance_minor: 'add' } },
};

const pay = (
  id: string,
  account: string,
  rank: number,
  amount: number,
  note = 'n',
  low = amount,
): Effect => ({
  table: 'payments',
  key: { payment_id: id },
  values: { account_id: account, status_rank: rank, amount_minor: amount, note, low },
});
const bal = (account: string, delta: number | bigint | string): Effect => ({
  table: 'balances',
  key: { account_id: account, currency: 'EUR' },
  values: { balance_minor: delta },
});

describe('merge rules', () => {
  it('fold one row per key: add sums, max/min keep extremes, set the last, keep-first the first', () => {
    const folded = foldEffects(
      [
        pay('p1', 'a', 1, 500, 'first', 9),
        pay('p1', 'b', 3, 200, 'second', 3),
        pay('p1', 'c', 2, 900, 'third', 7),
      ],
      PAYMENTS,
    );
    expect(folded).toHaveLength(1);
    expect(folded[0]?.rows).toEqual([{ key: ['p1'], values: ['a', 3, 200, 'third', 3] }]);
  });

  it('maxBy takes the value from the row with the greater (by, self) tuple, ties going to the larger value', () => {
    const spec = PAYMENTS.payments as TableSpec;
    const cols = Object.keys(spec.merge);
    const merged = mergeValues(spec, cols, ['a', 2, 100, 'x', 1], ['a', 2, 300, 'y', 1]);
    expect(merged[2]).toBe(300);
    expect(mergeValues(spec, cols, ['a', 2, 300, 'x', 1], ['a', 1, 900, 'y', 1])[2]).toBe(300);
  });

  it('add is exact beyond 2^53 (bigint), whatever mix of number, bigint and decimal string', () => {
    const big = 2n ** 60n;
    const [table] = foldEffects([bal('a', Number.MAX_SAFE_INTEGER), bal('a', big), bal('a', '-5')], PAYMENTS);
    expect(table?.rows[0]?.values[0]).toBe(BigInt(Number.MAX_SAFE_INTEGER) + big - 5n);
    expect(upsertParams(table as never)[2]).toEqual([
      (BigInt(Number.MAX_SAFE_INTEGER) + big - 5n).toString(),
    ]);
  });

  it('the fold is independent of batching for commutative rules: one batch equals two merged halves', () => {
    const effects = Array.from({ length: 200 }, (_, i) => bal(`a${i % 7}`, ((i * 37) % 101) - 50));
    const whole = foldEffects(effects, PAYMENTS)[0]?.rows;
    const a = foldEffects(effects.slice(0, 77), PAYMENTS)[0]?.rows ?? [];
    const b = foldEffects(effects.slice(77), PAYMENTS)[0]?.rows ?? [];
    const merged = new Map(a.map((r) => [r.key.join('|'), r.values[0] as bigint]));
    for (const r of b)
      merged.set(r.key.join('|'), (merged.get(r.key.join('|')) ?? 0n) + (r.values[0] as bigint));
    expect(whole?.map((r) => [r.key.join('|'), r.values[0]])).toEqual([...merged.entries()].sort());
  });

  it('rows come out in key order (code points; numbers numerically) and tables by name', () => {
    const folded = foldEffects(
      [bal('b', 1), pay('p2', 'x', 1, 1), bal('a', 1), bal('B', 1), pay('p10', 'x', 1, 1)],
      PAYMENTS,
    );
    expect(folded.map((t) => t.table)).toEqual(['balances', 'payments']);
    expect(folded[0]?.rows.map((r) => r.key[0])).toEqual(['B', 'a', 'b']);
    expect(folded[1]?.rows.map((r) => r.key[0])).toEqual(['p10', 'p2']);
    expect(compareValues(10, 9)).toBeGreaterThan(0);
    expect(compareValues(10n, 9)).toBeGreaterThan(0);
    expect(compareValues('\u{1F600}', '\uFFFF')).toBeGreaterThan(0);
  });

  it('keys 1 and 1n are one row; 1 and "1" are two', () => {
    const t: Record<string, TableSpec> = { t: { key: ['k'], merge: { n: 'add' } } };
    const e = (k: number | bigint | string): Effect => ({ table: 't', key: { k }, values: { n: 1 } });
    expect(foldEffects([e(1), e(1n)], t)[0]?.rows).toHaveLength(1);
    expect(foldEffects([e(1), e('1')], t)[0]?.rows).toHaveLength(2);
  });
});

describe('what decide returned, checked against tables', () => {
  const invalid = (effects: unknown) => {
    try {
      checkEffects(effects, PAYMENTS);
    } catch (error) {
      expect(isPoisonError(error)).toBe(true);
      expect((error as { reason: string }).reason).toBe('invalid_effects');
      return (error as Error).message;
    }
    throw new Error('accepted');
  };
  it('refuses an undeclared table, a missing or extra column, a bad add value, a null max', () => {
    expect(invalid([{ table: 'nope', key: {}, values: {} }])).toMatch(/table "nope" is not declared/);
    expect(invalid([{ ...bal('a', 1), values: { balance_minor: 1, other: 2 } }])).toMatch(
      /undeclared column\(s\) other/,
    );
    expect(invalid([{ ...bal('a', 1), key: { account_id: 'a' } }])).toMatch(/missing column\(s\) currency/);
    expect(invalid([bal('a', 1.5)])).toMatch(/balance_minor must be an integer/);
    expect(invalid([bal('a', '12abc')])).toMatch(/balance_minor must be an integer/);
    expect(
      invalid([{ ...pay('p', 'a', 1, 1), values: { ...pay('p', 'a', 1, 1).values, status_rank: null } }]),
    ).toMatch(/status_rank must be not null/);
    expect(invalid('x')).toMatch(/must return an array/);
    expect(invalid([bal('a', Number.NaN)])).toMatch(/must be a string, number/);
  });
  it('accepts well-formed effects unchanged', () => {
    const effects = [pay('p', 'a', 1, 1), bal('a', -3n)];
    expect(checkEffects(effects, PAYMENTS)).toBe(effects);
  });
});

describe('the upsert statement', () => {
  it('one INSERT ... SELECT FROM unnest WITH ORDINALITY ... ON CONFLICT with each rule, identifiers quoted', () => {
    const types = new Map([
      ['payment_id', 'text'],
      ['account_id', 'text'],
      ['status_rank', 'smallint'],
      ['amount_minor', 'bigint'],
      ['note', 'character varying(20)'],
      ['low', 'bigint'],
    ]);
    const sql = upsertSql('payments', PAYMENTS.payments as TableSpec, types);
    expect(sql).toContain(
      'FROM unnest($1::text[], $2::text[], $3::smallint[], $4::bigint[], $5::character varying(20)[], $6::bigint[]) WITH ORDINALITY',
    );
    expect(sql).toContain('ORDER BY streamsink_ord');
    expect(sql).toContain('ON CONFLICT ("payment_id") DO UPDATE SET');
    expect(sql).toContain('"account_id" = "payments"."account_id"');
    expect(sql).toContain('"status_rank" = GREATEST("payments"."status_rank", EXCLUDED."status_rank")');
    expect(sql).toContain('"low" = LEAST("payments"."low", EXCLUDED."low")');
    expect(sql).toContain('"note" = EXCLUDED."note"');
    expect(sql).toContain('"updated_at" = now()');
    expect(ruleExpression('b', 'n', 'add')).toBe('"n" = "b"."n" + EXCLUDED."n"');
    expect(() => upsertSql('payments', PAYMENTS.payments as TableSpec, new Map())).toThrow(/does not exist/);
  });
});

describe('the tables declaration', () => {
  it('names every problem: identifiers, rules, maxBy, touch, duplicates', () => {
    const issues = checkTablesSpec({
      'Bad-Name': { key: ['id'], merge: {} },
      t: { key: [], merge: { a: 'sum', b: { maxBy: ['zz'] }, c: 'add' }, touch: ['c'], extra: 1 },
    });
    const text = issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    expect(text).toMatch(/tables.Bad-Name: the table name must be/);
    expect(text).toMatch(/tables.t.key: give the conflict key columns/);
    expect(text).toMatch(/tables.t.merge.a: unknown rule "sum"/);
    expect(text).toMatch(/tables.t.merge.b: maxBy: "zz" is not another merged column/);
    expect(text).toMatch(/tables.t.touch: column c appears twice/);
    expect(text).toMatch(/unknown field\(s\) extra/);
  });

  it('definePipeline: decide needs tables, excludes apply/handle and idempotent', () => {
    const decide = () => [];
    expect(() => definePipeline({ name: 'x', decide } as never)).toThrow(/decide and tables go together/);
    expect(() =>
      definePipeline({ name: 'x', tables: PAYMENTS, decide, apply: async () => {} } as never),
    ).toThrow(/exactly one of apply/);
    expect(() => definePipeline({ name: 'x', tables: PAYMENTS, decide, idempotent: true })).toThrow(
      /always keeps an inbox/,
    );
    expect(definePipeline({ name: 'x', tables: PAYMENTS, decide }).decide).toBe(decide);
  });
});

describe('code-point order', () => {
  it('matches comparing code points one by one, with surrogates, U+E000-U+FFFF and prefixes', () => {
    const byCodePoints = (a: string, b: string) => {
      const x = Array.from(a, (c) => c.codePointAt(0) as number);
      const y = Array.from(b, (c) => c.codePointAt(0) as number);
      for (let i = 0; i < Math.min(x.length, y.length); i++)
        if (x[i] !== y[i]) return Math.sign((x[i] as number) - (y[i] as number));
      return Math.sign(x.length - y.length);
    };
    const parts = ['a', 'b', 'é', '\ue000', '\uffff', '\ud7ff', '\u{1f600}', '\u{10000}', ''];
    const strings = parts.flatMap((p) => parts.map((q) => `x${p}${q}`));
    for (const a of strings)
      for (const b of strings) expect(Math.sign(compareCodePoints(a, b))).toBe(byCodePoints(a, b));
  });
});
