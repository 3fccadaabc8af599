import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, REASON_CODES } from '../../src/lib/errors.ts';

// Like fastify's test that every error code is in its docs: a code an operator meets must be explained,
// and the docs must not explain codes that no longer exist.
const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const errorsDoc = read('docs/errors.md');
const wireDoc = read('docs/wire-format.md');

/** Backticked codes in the first column of a markdown table: `| \`code\` |`. */
function tableCodes(markdown: string, section: string): string[] {
  const start = markdown.indexOf(section);
  expect(start, `section ${section}`).toBeGreaterThanOrEqual(0);
  const rest = markdown.slice(start + section.length);
  const end = rest.search(/\n## /);
  const body = end === -1 ? rest : rest.slice(0, end);
  return [...body.matchAll(/^\| `([a-z0-9_]+)` +\|/gm)].map((m) => m[1] as string);
}

describe('documentation of codes', () => {
  it('docs/errors.md has a section and a table row for every error code, and no others', () => {
    const codes = Object.values(ERROR_CODES).sort();
    const headings = [...errorsDoc.matchAll(/^## `([a-z_]+)`$/gm)].map((m) => m[1]).sort();
    expect(headings).toEqual(codes);
    expect(tableCodes(errorsDoc, '# Errors').sort()).toEqual(codes);
  });

  it('docs/wire-format.md lists every reason code with a meaning, and no others', () => {
    const documented = tableCodes(wireDoc, '## Reason codes');
    expect([...documented].sort()).toEqual([...REASON_CODES].sort());
    for (const reason of REASON_CODES) {
      const row = wireDoc.split('\n').find((l) => l.startsWith(`| \`${reason}\``)) ?? '';
      const meaning = row.split('|')[2]?.trim() ?? '';
      expect(meaning.length, `meaning of ${reason}`).toBeGreaterThan(20);
    }
  });

  it('keeps the anchors other files link to', () => {
    for (const heading of ['## Keys', '## Reason codes', '## Dead-letter entries']) {
      expect(wireDoc).toContain(`\n${heading}\n`);
    }
  });
});
