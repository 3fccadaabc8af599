// Empties the build output before `npm run build`, so a module deleted or renamed under src/ does not live on
// in dist/ (and in what `npm pack` ships). `node scripts/clean-dist.ts [dir]`, dir defaulting to dist.
import { rmSync } from 'node:fs';

const dir = process.argv[2] ?? 'dist';
rmSync(dir, { recursive: true, force: true });
console.log(`removed ${dir}/`);
