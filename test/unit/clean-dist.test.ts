import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('npm run build', () => {
  it('empties the output first, so a module gone from src/ is not shipped from a stale dist/', () => {
    const build = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.build as string;
    expect(build.split(' && ')[0]).toBe('node scripts/clean-dist.ts');

    const out = path.join(mkdtempSync(path.join(tmpdir(), 'clean-dist-')), 'dist');
    mkdirSync(path.join(out, 'consumers'), { recursive: true });
    writeFileSync(path.join(out, 'consumers', 'removed-module.js'), 'export {};\n');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'clean-dist.ts'), out]);
    expect(existsSync(out)).toBe(false);
    // A second run (nothing to remove) succeeds too.
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'clean-dist.ts'), out]);
  });
});
