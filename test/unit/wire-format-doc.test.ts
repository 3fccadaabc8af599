import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkEnvelopeFields,
  DEFAULT_DECODE_LIMITS,
  decodeEntry,
  encodedSize,
  isValidTraceparent,
} from '../../src/lib/envelope.ts';

// docs/wire-format.md is what a producer in another language is written from: its examples are checked here
// against the real decoder, so the page cannot drift from the code.
const DOC = readFileSync(new URL('../../docs/wire-format.md', import.meta.url), 'utf8');

/** The lines of the fenced block whose info string is `info` (the page has exactly one of each). */
function block(info: string): string[] {
  const blocks = [...DOC.matchAll(/^( *)```([^\n]*)\n([\s\S]*?)^\1```$/gm)].filter((m) => m[2] === info);
  expect(blocks, `one \`\`\`${info} block in docs/wire-format.md`).toHaveLength(1);
  const lines = (blocks[0]?.[3] ?? '').split('\n').map((l) => l.trim());
  return lines.filter((l) => l.length > 0);
}

const BASE = {
  id: 'e-1',
  type: 'payment.captured',
  v: '1',
  key: 'k',
  ts: '2026-11-21T10:00:00Z',
  data: '{}',
};
const fields = (over: Partial<Record<string, string>> = {}, traceparent?: string): string[] => {
  const all = { ...BASE, ...over };
  const list = ['id', all.id, 'type', all.type, 'v', all.v, 'key', all.key, 'ts', all.ts, 'data', all.data];
  return traceparent === undefined ? list : [...list, 'traceparent', traceparent];
};

describe('docs/wire-format.md examples against the decoder', () => {
  it('decodes the XADD example of the field layout', () => {
    const xadd = DOC.split('\n```\n').find((b) => b.startsWith('XADD <prefix>:{<stream>} *')) ?? '';
    const items = xadd
      .split('\n')
      .slice(1)
      .map((l) =>
        l
          .replace(/\\$/, '')
          .replace(/^\s*\[|\]\s*$/g, '')
          .trim(),
      )
      .filter((l) => l.length > 0)
      .flatMap((l) => {
        const [name, ...value] = l.split(/\s+/);
        return [name as string, value.join(' ')];
      });
    expect(items.filter((_, i) => i % 2 === 0)).toEqual([
      'id',
      'type',
      'v',
      'key',
      'ts',
      'data',
      'traceparent',
    ]);
    const decoded = decodeEntry(items);
    expect(decoded.ok, JSON.stringify(decoded)).toBe(true);
  });

  it('accepts every ts listed as accepted and refuses every one listed as refused', () => {
    const accepted = block('ts-accepted');
    const refused = block('ts-refused');
    expect(accepted.length).toBeGreaterThan(5);
    expect(refused.length).toBeGreaterThan(5);
    for (const ts of accepted) expect(decodeEntry(fields({ ts })).ok, ts).toBe(true);
    for (const ts of refused) {
      const r = decodeEntry(fields({ ts }));
      expect(r.ok ? 'accepted' : r.reason, ts).toBe('malformed_envelope');
    }
  });

  it('accepts and refuses the traceparents as listed (an all-zero trace id or parent id is invalid)', () => {
    for (const tp of block('traceparent-accepted')) {
      expect(isValidTraceparent(tp), tp).toBe(true);
      expect(decodeEntry(fields({}, tp)).ok, tp).toBe(true);
    }
    const refused = block('traceparent-refused');
    expect(refused.some((tp) => tp.includes('0'.repeat(32)))).toBe(true);
    expect(refused.some((tp) => tp.includes(`-${'0'.repeat(16)}-`))).toBe(true);
    for (const tp of refused) {
      // The producer runs the same check before publishing.
      const producerSide = checkEnvelopeFields({
        id: 'e-1',
        type: 't',
        v: 1,
        key: 'k',
        ts: BASE.ts,
        traceparent: tp,
      });
      expect(
        producerSide.map((i) => i.path),
        tp,
      ).toEqual(['traceparent']);
      const r = decodeEntry(fields({}, tp));
      expect(r.ok ? 'accepted' : r.reason, tp).toBe('malformed_envelope');
    }
  });

  it('counts nesting levels as the page says', () => {
    for (const line of block('data-levels')) {
      const [levels, ...json] = line.split(' ');
      const data = json.join(' ');
      const n = Number(levels);
      expect(decodeEntry(fields({ data }), { ...DEFAULT_DECODE_LIMITS, maxDepth: n }).ok, line).toBe(true);
      if (n > 1) {
        const r = decodeEntry(fields({ data }), { ...DEFAULT_DECODE_LIMITS, maxDepth: n - 1 });
        expect(r.ok ? 'accepted' : r.reason, line).toBe('payload_too_deep');
      }
    }
    // The default limit, 32, as stated.
    const nest = (n: number) => `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`;
    expect(DOC).toContain('must not nest deeper than 32 levels');
    expect(decodeEntry(fields({ data: nest(32) })).ok).toBe(true);
    const deep = decodeEntry(fields({ data: nest(33) }));
    expect(deep.ok ? 'accepted' : deep.reason).toBe('payload_too_deep');
  });

  it('refuses the entries listed as refused, field order included', () => {
    const rows = block('fields-refused');
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const r = decodeEntry(row.split(' '));
      expect(r.ok ? 'accepted' : r.reason, row).toBe('malformed_envelope');
    }
  });

  it('takes the size limit as inclusive, counted in UTF-8 bytes of names and values', () => {
    expect(DOC).toMatch(/\*\*inclusive\*\*: an entry of exactly\s+that many bytes is accepted/);
    const entry = fields({ data: JSON.stringify({ note: 'é'.repeat(600) }) });
    const size = encodedSize(entry);
    expect(size).toBe(entry.reduce((n, f) => n + Buffer.byteLength(f), 0));
    expect(decodeEntry(entry, { ...DEFAULT_DECODE_LIMITS, maxBytes: size }).ok).toBe(true);
    const over = decodeEntry(entry, { ...DEFAULT_DECODE_LIMITS, maxBytes: size - 1 });
    expect(over.ok ? 'accepted' : over.reason).toBe('oversize');
  });
});
