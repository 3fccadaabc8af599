// Copies the non-TypeScript files that modules load at run time (Lua scripts, SQL) from src/ into dist/,
// keeping their relative paths, so `new URL('./x.lua', import.meta.url)` works from both trees.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const ASSET = /\.(lua|sql)$/;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : ASSET.test(e.name) ? [join(dir, e.name)] : [],
  );
}

let copied = 0;
for (const file of walk('src')) {
  const target = join('dist', relative('src', file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  copied += 1;
}
console.log(`copied ${copied} asset file(s) to dist/`);
