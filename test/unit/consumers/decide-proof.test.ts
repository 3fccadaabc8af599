import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentHash } from '../../../src/consumers/content-hash.ts';
import type { Effect, TableSpec } from '../../../src/consumers/decide/effects.ts';
import {
  canonicalEffects,
  effectLayouts,
  inputCanonical,
  inputHash,
  proofCanonical,
  proofHash,
} from '../../../src/consumers/decide/proof.ts';
import { canonicalJson } from '../../../src/lib/canonical-json.ts';
import {
  addToTally,
  classifyEntry,
  newTally,
  type RecordedRow,
  replayFailed,
} from '../../../src/replay/classify.ts';

const sha = (t: string) => createHash('sha256').update(t).digest('hex');
const event = {
  id: 'e-1',
  type: 'ledger.moved',
  v: 1,
  key: 'acct-1',
  ts: '2026-12-01T00:00:00.000Z',
  data: { z: [1, 'é'], account: 'acct-1', amountMinor: -250 },
};

describe('proof format (docs/proof.md)', () => {
  it('input: the envelope without transport fields, keys sorted, no whitespace', () => {
    expect(inputCanonical(event)).toBe(
      '{"data":{"account":"acct-1","amountMinor":-250,"z":[1,"é"]},"id":"e-1","key":"acct-1","ts":"2026-12-01T00:00:00.000Z","type":"ledger.moved","v":1}',
    );
    expect(inputCanonical(event)).toBe(canonicalJson(event));
    expect(inputHash(event)).toBe(sha(inputCanonical(event)));
  });

  it('the content hash given the shared data text is the content hash', () => {
    expect(contentHash(event, canonicalJson(event.data))).toBe(contentHash(event));
  });

  it('effects: numbers as strings, sorted, so listing order and 5 vs 5n do not change the proof', () => {
    const a: Effect = { table: 'ledger', key: { account: 'b' }, values: { n: 5, ok: true, note: null } };
    const b: Effect = {
      table: 'ledger',
      key: { account: 'a' },
      values: { n: 2n ** 64n, ok: false, note: 'x' },
    };
    expect(canonicalEffects([a, b])).toBe(
      '[{"key":{"account":"a"},"table":"ledger","values":{"n":"18446744073709551616","note":"x","ok":false}},' +
        '{"key":{"account":"b"},"table":"ledger","values":{"n":"5","note":null,"ok":true}}]',
    );
    expect(canonicalEffects([b, a])).toBe(canonicalEffects([a, b]));
    expect(proofHash('l@1', 'ab', [{ ...a, values: { ...a.values, n: 5n } }])).toBe(
      proofHash('l@1', 'ab', [a]),
    );
    expect(proofHash('l@1', 'ab', [a])).not.toBe(proofHash('l@2', 'ab', [a]));
    expect(proofHash('l@1', 'ab', [a])).not.toBe(
      proofHash('l@1', 'ab', [{ ...a, values: { ...a.values, n: 6 } }]),
    );
  });

  it('effects laid out by the declared tables give the same text as sorting each record', () => {
    const tables = {
      ledger: { key: ['account', 'book'], merge: { ok: 'set', n: 'add', note: 'set' } },
      zz_other: { key: ['id'], merge: {} },
      plain: { key: ['id', 'at'], merge: { s: 'set', n: 'add', m: 'max' } },
    } as const satisfies Record<string, TableSpec>;
    const layouts = effectLayouts(tables);
    const effects: Effect[] = [
      {
        table: 'ledger',
        key: { book: 'q"uote\u2028', account: 'é' },
        values: { note: null, n: 2n ** 64n, ok: true },
      },
      { table: 'ledger', key: { account: 'a', book: 'b' }, values: { ok: false, n: -5, note: 'x\ny' } },
      { table: 'zz_other', key: { id: 7 }, values: {} },
      // Numbers and strings needing no escaping: the text is cut from the layout's glue.
      { table: 'plain', key: { id: 'p-1', at: 3 }, values: { s: 'ok', n: -(2n ** 70n), m: 1.5 } },
      { table: 'plain', key: { at: 'x', id: '' }, values: { n: 0, m: 'é', s: 'a"b' } },
      // Not declared (checkEffects refuses it before a proof): sorted as before.
      { table: 'undeclared', key: { b: 1, a: 2 }, values: { y: 1, x: 'z' } },
    ];
    expect(canonicalEffects(effects, layouts)).toBe(canonicalEffects(effects));
    expect(canonicalEffects([...effects].reverse(), layouts)).toBe(canonicalEffects(effects));
    expect(proofHash('l@1', 'ab', effects, layouts)).toBe(proofHash('l@1', 'ab', effects));
    for (const e of effects) expect(canonicalEffects([e], layouts)).toBe(canonicalEffects([e]));
    expect(canonicalEffects([effects[3] as Effect], layouts)).toBe(
      '[{"key":{"at":"3","id":"p-1"},"table":"plain","values":{"m":"1.5","n":"-1180591620717411303424","s":"ok"}}]',
    );
  });

  it('proof: sha256 over {effects, input_hash, pipeline}; an SQL apply pipeline proves its input only', () => {
    expect(proofCanonical('orders@1', 'ff', null)).toBe(
      '{"effects":null,"input_hash":"ff","pipeline":"orders@1"}',
    );
    expect(proofHash('orders@1', 'ff', null)).toBe(
      sha('{"effects":null,"input_hash":"ff","pipeline":"orders@1"}'),
    );
    expect(proofCanonical('l@1', 'ff', [])).toBe('{"effects":[],"input_hash":"ff","pipeline":"l@1"}');
  });
});

describe('replay classes', () => {
  const row: RecordedRow = {
    stream: 's',
    entryId: '1-0',
    contentHash: 'c',
    inputHash: 'i',
    proof: 'p',
    version: '1',
  };
  const now = { ok: true as const, contentHash: 'c', inputHash: 'i', proof: 'p' };
  const classify = (
    recorded: RecordedRow | undefined,
    n: Parameters<typeof classifyEntry>[0]['now'] = now,
    version = '1',
  ) => classifyEntry({ stream: 's', entryId: '1-0', version, recorded, now: n }).class;

  it('one class per situation', () => {
    expect(classify(row)).toBe('OK');
    expect(classify(undefined)).toBe('MISSING');
    expect(classify(row, { ...now, inputHash: 'other' })).toBe('INPUT_MISMATCH');
    expect(classify(row, { ...now, proof: 'other' })).toBe('NONDETERMINISTIC');
    expect(classify(row, { ok: false, contentHash: 'c', inputHash: 'i', why: 'refused' })).toBe(
      'NONDETERMINISTIC',
    );
    expect(classify(row, { ...now, proof: 'other' }, '2')).toBe('VERSION_DRIFT');
    expect(classify({ ...row, entryId: '0-1' })).toBe('DUPLICATE');
    expect(classify({ ...row, entryId: '0-1' }, { ...now, contentHash: 'x' })).toBe('ID_CONFLICT');
    expect(classify({ ...row, proof: null, inputHash: null })).toBe('UNPROVEN');
  });

  it('the tally keeps counts and only the first examples; it fails on the two failing classes only', () => {
    const tally = newTally();
    for (let i = 0; i < 10; i++) addToTally(tally, { class: 'VERSION_DRIFT' }, { entryId: `${i}-0` }, 3);
    expect(tally.counts.VERSION_DRIFT).toBe(10);
    expect(tally.examples.VERSION_DRIFT.map((e) => e.entryId)).toEqual(['0-0', '1-0', '2-0']);
    expect(replayFailed(tally)).toBe(false);
    addToTally(tally, { class: 'NONDETERMINISTIC', detail: 'x' }, { entryId: '9-9', eventId: 'e' }, 3);
    expect(replayFailed(tally)).toBe(true);
  });
});
