import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * The built package (`dist/`, what `npm pack` ships and the `streamsink` bin runs), for tests that use
 * streamsink the way an installed copy is used. Built here when missing or older than a file under src/
 * (CI builds it before the tests; a developer who just edited src/ gets a fresh one).
 */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST_CLI = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** Newest mtime of the files and folders under `dir` (a folder's changes when a file is added or removed). */
function newestMtime(dir: string): number {
  let newest = statSync(dir).mtimeMs;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export async function ensureDist(): Promise<void> {
  const built = path.join(REPO_ROOT, 'dist', 'index.js');
  if (existsSync(built) && existsSync(path.join(REPO_ROOT, 'dist', 'testing.js'))) {
    const builtAt = statSync(built).mtimeMs;
    if (newestMtime(path.join(REPO_ROOT, 'src')) <= builtAt) return;
  }
  const run = promisify(execFile);
  const options = { cwd: REPO_ROOT, timeout: 120_000 };
  await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], options);
  await run(process.execPath, ['scripts/copy-assets.ts'], options);
}
