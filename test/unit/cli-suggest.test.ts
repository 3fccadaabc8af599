import { describe, expect, it } from 'vitest';
import { editDistance, suggest } from '../../src/cli/suggest.ts';

const COMMANDS = ['publish', 'migrate', 'worker', 'status', 'dlq'];

describe('suggest', () => {
  it('finds the command behind a typo, a swap or a prefix', () => {
    expect(suggest('wroker', COMMANDS)).toBe('worker');
    expect(suggest('pubish', COMMANDS)).toBe('publish');
    expect(suggest('migrte', COMMANDS)).toBe('migrate');
    expect(suggest('stat', COMMANDS)).toBe('status');
    expect(suggest('dql', COMMANDS)).toBe('dlq');
    expect(suggest('STATUS', COMMANDS)).toBe('status');
  });
  it('suggests nothing for something unrelated', () => {
    expect(suggest('deploy', COMMANDS)).toBeUndefined();
    expect(suggest('x', COMMANDS)).toBeUndefined();
  });
  it('counts edits, an adjacent swap as one', () => {
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('abc', 'acb')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});
