import { isPlainObject } from './types.ts';

/**
 * Strategic merge patch, for the fields k8s/ patches: maps merge recursively, `null` deletes a key, and the lists
 * of built-in kinds that Kubernetes merges by key (containers by name, volumeMounts by mountPath, ...) merge item
 * by item; any other list, and every list of a custom resource, is replaced whole. `$patch: delete` on a keyed
 * list item removes it.
 */

/** List field -> merge key, for built-in kinds. `ports` depends on where it is (see mergeKeyFor). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  imagePullSecrets: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  topologySpreadConstraints: 'topologyKey',
  hostAliases: 'ip',
};

function mergeKeyFor(field: string, parentPath: readonly string[]): string | undefined {
  if (field === 'ports') {
    const parent = parentPath[parentPath.length - 2];
    if (parent === 'containers' || parent === 'initContainers') return 'containerPort';
    if (parentPath.length === 1 && parentPath[0] === 'spec') return 'port'; // Service spec.ports
    return undefined;
  }
  return MERGE_KEYS[field];
}

export function strategicMerge<T>(base: T, patch: unknown, builtIn: boolean): T {
  return mergeValue(structuredClone(base), patch, [], builtIn) as T;
}

function mergeValue(base: unknown, patch: unknown, path: string[], builtIn: boolean): unknown {
  if (isPlainObject(base) && isPlainObject(patch)) {
    for (const [key, value] of Object.entries(patch)) {
      if (key === '$patch') continue;
      if (value === null) {
        delete base[key];
      } else if (base[key] === undefined) {
        base[key] = clean(value);
      } else if (Array.isArray(base[key]) && Array.isArray(value)) {
        const mergeKey = builtIn ? mergeKeyFor(key, path) : undefined;
        base[key] = mergeKey
          ? mergeList(base[key] as unknown[], value, mergeKey, [...path, key], builtIn)
          : clean(value);
      } else {
        base[key] = mergeValue(base[key], value, [...path, key], builtIn);
      }
    }
    return base;
  }
  return clean(patch);
}

// Order as kustomize gives it: the patch's items first, in patch order, then the base items the patch did not
// mention, in base order.
function mergeList(
  base: unknown[],
  patch: unknown[],
  key: string,
  path: string[],
  builtIn: boolean,
): unknown[] {
  const out: unknown[] = [];
  const used = new Set<number>();
  for (const item of patch) {
    if (!isPlainObject(item) || item[key] === undefined) {
      out.push(clean(item));
      continue;
    }
    const at = base.findIndex((b) => isPlainObject(b) && b[key] === item[key]);
    if (at >= 0) used.add(at);
    if (item.$patch === 'delete') continue;
    out.push(at >= 0 ? mergeValue(base[at], item, [...path, String(out.length)], builtIn) : clean(item));
  }
  base.forEach((b, i) => {
    if (!used.has(i)) out.push(b);
  });
  return out;
}

/** A value copied from a patch, without `$patch` directives and without null members. */
function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== '$patch' && v !== null) out[k] = clean(v);
  return out;
}
