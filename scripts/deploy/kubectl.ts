import { spawnSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { parseManifests } from './kustomize.ts';
import { type K8sObject, objectId } from './types.ts';

/**
 * Renders with the real `kubectl kustomize` when kubectl is installed (it is not on CI machines by default and
 * cannot be downloaded at run time), to prove the offline renderer gives the same objects.
 * Returns undefined when kubectl is missing.
 */
export function kubectlKustomize(dir: string, kubectl = 'kubectl'): K8sObject[] | undefined {
  const result = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  if (result.status !== 0) {
    throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr || result.error?.message}`);
  }
  return parseManifests(result.stdout, `kubectl kustomize ${dir}`) as K8sObject[];
}

/** Differences between two renderings of the same kustomization, by object identity; empty when equal. */
export function diffRenderings(ours: readonly K8sObject[], theirs: readonly K8sObject[]): string[] {
  const a = new Map(ours.map((o) => [objectId(o), o]));
  const b = new Map(theirs.map((o) => [objectId(o), o]));
  const out: string[] = [];
  for (const id of a.keys()) if (!b.has(id)) out.push(`${id}: only in the offline rendering`);
  for (const id of b.keys()) if (!a.has(id)) out.push(`${id}: only in kubectl's rendering`);
  for (const [id, o] of a) {
    const other = b.get(id);
    if (other !== undefined && !isDeepStrictEqual(o, other)) {
      out.push(`${id}: differs at ${firstDifference(o, other, '') ?? '(unknown)'}`);
    }
  }
  return out;
}

function firstDifference(x: unknown, y: unknown, path: string): string | undefined {
  if (isDeepStrictEqual(x, y)) return undefined;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) {
    return `${path || '/'} (${JSON.stringify(x)} vs ${JSON.stringify(y)})`;
  }
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  for (const k of keys) {
    const d = firstDifference(
      (x as Record<string, unknown>)[k],
      (y as Record<string, unknown>)[k],
      `${path}/${k}`,
    );
    if (d) return d;
  }
  return path || '/';
}
