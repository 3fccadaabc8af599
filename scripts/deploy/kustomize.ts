import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { applyJsonPatch, type JsonPatchOp } from './json-patch.ts';
import { strategicMerge } from './strategic-merge.ts';
import { isPlainObject, type K8sObject, objectId } from './types.ts';

/**
 * A small kustomize renderer for the subset of kustomize that k8s/ uses, so `npm run validate:deploy` renders the
 * overlays on machines without kubectl (no download at run time). Supported: `resources` (files and directories
 * holding a kustomization), `namespace`, `images`, and `patches` (strategic merge or JSON 6902, from a file or
 * inline, with or without `target`). Anything else in a kustomization is an error, not silently ignored, so a
 * manifest that starts using another feature fails the check until the renderer learns it. When kubectl is
 * installed, validate:deploy also renders with `kubectl kustomize` and requires the same objects.
 */

export interface FileReader {
  readFile(path: string): string;
  isDirectory(path: string): boolean;
  exists(path: string): boolean;
}

export const nodeFiles: FileReader = {
  readFile: (p) => readFileSync(p, 'utf8'),
  isDirectory: (p) => existsSync(p) && statSync(p).isDirectory(),
  exists: (p) => existsSync(p),
};

export class KustomizeError extends Error {
  override name = 'KustomizeError';
}

const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** Kinds without a namespace; the `namespace` field leaves them alone. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
  'PersistentVolume',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'APIService',
  'ClusterTriggerAuthentication',
]);

interface ImageRule {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}
interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}
interface PatchRule {
  path?: string;
  patch?: string;
  target?: PatchTarget;
}

export function findKustomizationFile(dir: string, files: FileReader = nodeFiles): string | undefined {
  return KUSTOMIZATION_FILES.map((f) => join(dir, f)).find((p) => files.exists(p));
}

/** Parses a multi-document YAML text into objects, skipping empty documents. */
export function parseManifests(text: string, source: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      throw new KustomizeError(`${source}: invalid YAML: ${doc.errors[0]?.message ?? 'parse error'}`);
    }
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Renders the kustomization in `dir` into the list of objects `kubectl kustomize dir` would print. */
export function renderKustomization(dir: string, files: FileReader = nodeFiles): K8sObject[] {
  const file = findKustomizationFile(dir, files);
  if (!file) throw new KustomizeError(`${dir}: no kustomization.yaml`);
  const [doc] = parseManifests(files.readFile(file), file);
  if (!isPlainObject(doc)) throw new KustomizeError(`${file}: not a mapping`);
  for (const key of Object.keys(doc)) {
    if (!SUPPORTED_FIELDS.has(key)) {
      throw new KustomizeError(
        `${file}: field "${key}" is not supported by the offline renderer (${[...SUPPORTED_FIELDS].join(', ')})`,
      );
    }
  }

  let objects: K8sObject[] = [];
  for (const entry of stringList(doc.resources, `${file}: resources`)) {
    const path = resolve(dir, entry);
    if (files.isDirectory(path)) objects.push(...renderKustomization(path, files));
    else objects.push(...parseManifests(files.readFile(path), path).map((o) => asObject(o, path)));
  }
  assertUnique(objects, file);

  for (const rule of list<PatchRule>(doc.patches, `${file}: patches`)) {
    objects = applyPatch(objects, rule, dir, files, file);
  }
  if (doc.namespace !== undefined) {
    if (typeof doc.namespace !== 'string') throw new KustomizeError(`${file}: namespace must be a string`);
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = doc.namespace;
  }
  const images = list<ImageRule>(doc.images, `${file}: images`);
  if (images.length > 0) for (const o of objects) setImages(o, images);
  return objects;
}

function applyPatch(
  objects: K8sObject[],
  rule: PatchRule,
  dir: string,
  files: FileReader,
  file: string,
): K8sObject[] {
  const text = rule.path !== undefined ? files.readFile(resolve(dir, rule.path)) : rule.patch;
  if (typeof text !== 'string') throw new KustomizeError(`${file}: a patch needs "path" or "patch"`);
  const docs = parseManifests(text, rule.path ?? `${file} (inline patch)`);
  const first = docs[0];
  if (Array.isArray(first)) {
    if (!rule.target) throw new KustomizeError(`${file}: a JSON 6902 patch needs a target`);
    const targets = objects.filter((o) => matchesTarget(o, rule.target ?? {}));
    if (targets.length === 0) throw new KustomizeError(`${file}: patch target matches nothing`);
    return objects.map((o) =>
      targets.includes(o) ? asObject(applyJsonPatch(o, first as JsonPatchOp[]), file) : o,
    );
  }
  let out = objects;
  for (const patch of docs) {
    if (!isPlainObject(patch)) throw new KustomizeError(`${file}: a strategic merge patch must be a mapping`);
    const target: PatchTarget = rule.target ?? {
      kind: String(patch.kind),
      name: String((patch.metadata as { name?: unknown } | undefined)?.name),
    };
    const matched = out.filter((o) => matchesTarget(o, target));
    if (matched.length === 0) {
      throw new KustomizeError(`${file}: patch for ${target.kind}/${target.name} matches nothing`);
    }
    out = out.map((o) => {
      if (!matched.includes(o)) return o;
      // A patch found by target keeps the target's identity, as kustomize does.
      const body = rule.target
        ? { ...patch, metadata: { ...(patch.metadata as object), name: o.metadata.name } }
        : patch;
      return asObject(strategicMerge(o, body, isBuiltIn(o.apiVersion)), file);
    });
  }
  return out;
}

function matchesTarget(o: K8sObject, t: PatchTarget): boolean {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  return (
    (t.kind === undefined || t.kind === o.kind) &&
    (t.name === undefined || t.name === o.metadata.name) &&
    (t.namespace === undefined || t.namespace === o.metadata.namespace) &&
    (t.group === undefined || t.group === group) &&
    (t.version === undefined || t.version === version)
  );
}

/** Groups whose list fields merge by key in a strategic merge patch; custom resources' lists are replaced. */
const BUILT_IN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'policy',
  'autoscaling',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
]);
function isBuiltIn(apiVersion: string): boolean {
  return BUILT_IN_GROUPS.has(apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '');
}

/** The images transformer: every `containers` / `initContainers` entry anywhere in the object. */
function setImages(node: unknown, rules: ImageRule[]): void {
  if (Array.isArray(node)) {
    for (const item of node) setImages(item, rules);
    return;
  }
  if (!isPlainObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if ((key === 'containers' || key === 'initContainers') && Array.isArray(value)) {
      for (const c of value) {
        if (isPlainObject(c) && typeof c.image === 'string') c.image = rewriteImage(c.image, rules);
      }
    }
    setImages(value, rules);
  }
}

export function rewriteImage(image: string, rules: readonly ImageRule[]): string {
  const at = image.indexOf('@');
  const withoutDigest = at >= 0 ? image.slice(0, at) : image;
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > withoutDigest.lastIndexOf('/');
  const name = hasTag ? withoutDigest.slice(0, colon) : withoutDigest;
  const rule = rules.find((r) => r.name === name);
  if (!rule) return image;
  const newName = rule.newName ?? name;
  if (rule.digest) return `${newName}@${rule.digest}`;
  if (rule.newTag) return `${newName}:${rule.newTag}`;
  return newName + image.slice(name.length);
}

function asObject(value: unknown, source: string): K8sObject {
  if (
    !isPlainObject(value) ||
    typeof value.apiVersion !== 'string' ||
    typeof value.kind !== 'string' ||
    !isPlainObject(value.metadata) ||
    typeof value.metadata.name !== 'string'
  ) {
    throw new KustomizeError(`${source}: every document needs apiVersion, kind and metadata.name`);
  }
  return value as K8sObject;
}

function assertUnique(objects: K8sObject[], file: string): void {
  const seen = new Set<string>();
  for (const o of objects) {
    const id = objectId(o);
    if (seen.has(id)) throw new KustomizeError(`${file}: ${id} is defined twice`);
    seen.add(id);
  }
}

function stringList(value: unknown, what: string): string[] {
  const items = list<unknown>(value, what);
  if (!items.every((i) => typeof i === 'string')) throw new KustomizeError(`${what}: expected strings`);
  return items as string[];
}
function list<T>(value: unknown, what: string): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new KustomizeError(`${what}: expected a list`);
  return value as T[];
}
