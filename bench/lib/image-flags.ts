import { readFileSync } from 'node:fs';

/**
 * The Node flags the container image runs the worker with: the Dockerfile's ENTRYPOINT, between `node` and
 * the script. The benches run the built worker with them, so their figures are the deployed worker's.
 */
export function imageNodeFlags(dockerfile = new URL('../../Dockerfile', import.meta.url)): string[] {
  const line = readFileSync(dockerfile, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ENTRYPOINT '));
  if (!line) throw new Error('Dockerfile has no ENTRYPOINT line');
  const argv = JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
  if (argv[0] !== 'node') throw new Error(`Dockerfile ENTRYPOINT does not start with node: ${line}`);
  return argv.slice(1).filter((a) => a.startsWith('--'));
}
