#!/usr/bin/env node
// The `streamsink` command. An installed package (and a checkout after `npm run build`) runs the built CLI in
// dist/; a fresh checkout, before any build, runs the TypeScript sources directly (Node 24 strips types), so
// `npx streamsink ...` works as the README writes it either way. Plain JavaScript: it must start on any Node
// to say which one it needs.
import { existsSync } from 'node:fs';

const MIN_NODE_MAJOR = 24;
if (Number(process.versions.node.split('.')[0]) < MIN_NODE_MAJOR) {
  process.stderr.write(
    `streamsink needs Node.js ${MIN_NODE_MAJOR} or later; this is ${process.version}. ` +
      'In a checkout, run it through npm (`npx streamsink`, `npm run cli -- <command>`): the project installs Node 24.\n',
  );
  process.exitCode = 2;
} else {
  const built = new URL('../dist/cli/main.js', import.meta.url);
  const entry = existsSync(built) ? built : new URL('../src/cli/main.ts', import.meta.url);
  const { runProcess } = await import(entry.href);
  runProcess();
}
