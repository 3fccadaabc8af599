import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUILT_IN_PIPELINES } from '../../src/consumers/pipelines/index.ts';

/**
 * Schema version 4 records the built-in pipelines' first migrations as applied (their tables came from
 * versions 1-2). Recorded checksums must equal the SQL the pipelines declare, or every worker would refuse to
 * start ("edited after it was applied"): a released migration's text can never change.
 */
describe('built-in pipeline migrations recorded by schema version 4', () => {
  it('carry the checksums of the SQL the pipelines declare', () => {
    const sql = readFileSync(
      new URL('../../src/lib/migrations/0004-pipeline-migrations.sql', import.meta.url),
      'utf8',
    );
    const recorded = [...sql.matchAll(/\('([a-z-]+)', '([^']+)', '([0-9a-f]{64})'\)/g)].map((m) =>
      m.slice(1),
    );
    const declared = Object.entries(BUILT_IN_PIPELINES).flatMap(([name, make]) =>
      (make({ currencies: ['EUR'] }).migrations ?? []).map((m) => [
        name,
        m.name,
        createHash('sha256').update(m.sql).digest('hex'),
      ]),
    );
    expect(recorded).toEqual(declared);
  });
});
