import { isPlainObject } from './types.ts';

/** RFC 6902 operations used by kustomize JSON patches: add, remove, replace and test (move/copy are refused). */
export interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
}

export class JsonPatchError extends Error {
  override name = 'JsonPatchError';
}

/** Applies the operations to a deep copy of `doc` and returns it; `doc` itself is not changed. */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOp[]): T {
  let root: unknown = structuredClone(doc);
  for (const op of ops) {
    if (!isPlainObject(op) || typeof op.path !== 'string') throw new JsonPatchError('malformed operation');
    const tokens = parsePointer(op.path);
    if (tokens.length === 0) {
      if (op.op === 'replace' || op.op === 'add') root = structuredClone(op.value);
      else throw new JsonPatchError(`${op.op} on the document root`);
      continue;
    }
    const parent = resolveParent(root, tokens, op.path);
    const last = tokens[tokens.length - 1] as string;
    switch (op.op) {
      case 'add':
        setChild(parent, last, structuredClone(op.value), true, op.path);
        break;
      case 'replace':
        getChild(parent, last, op.path);
        setChild(parent, last, structuredClone(op.value), false, op.path);
        break;
      case 'remove':
        getChild(parent, last, op.path);
        if (Array.isArray(parent)) parent.splice(index(parent, last, op.path, false), 1);
        else delete (parent as Record<string, unknown>)[last];
        break;
      case 'test':
        if (JSON.stringify(getChild(parent, last, op.path)) !== JSON.stringify(op.value)) {
          throw new JsonPatchError(`test failed at ${op.path}`);
        }
        break;
      default:
        throw new JsonPatchError(`unsupported op "${op.op}" at ${op.path}`);
    }
  }
  return root as T;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`not a JSON pointer: ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function resolveParent(root: unknown, tokens: string[], path: string): unknown {
  let node = root;
  for (const t of tokens.slice(0, -1)) node = getChild(node, t, path);
  return node;
}

function getChild(node: unknown, token: string, path: string): unknown {
  if (Array.isArray(node)) return node[index(node, token, path, false)];
  if (isPlainObject(node) && Object.hasOwn(node, token)) return node[token];
  throw new JsonPatchError(`path not found: ${path}`);
}

function setChild(node: unknown, token: string, value: unknown, insert: boolean, path: string): void {
  if (Array.isArray(node)) {
    const i = index(node, token, path, insert);
    if (insert) node.splice(i, 0, value);
    else node[i] = value;
  } else if (isPlainObject(node)) {
    node[token] = value;
  } else {
    throw new JsonPatchError(`path not found: ${path}`);
  }
}

function index(list: unknown[], token: string, path: string, insert: boolean): number {
  if (insert && token === '-') return list.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new JsonPatchError(`bad array index in ${path}`);
  const i = Number(token);
  if (i > list.length || (!insert && i === list.length))
    throw new JsonPatchError(`index out of range: ${path}`);
  return i;
}
