import type { ReasonCode } from './errors.ts';

/**
 * The shape rules for a payload, on the parsed value: no forbidden keys, no nesting deeper than a limit.
 * (What only the text shows, repeated keys and inexact numbers, is json-text.ts.)
 */

/** Keys refused anywhere in a payload: they have no business in an event and invite prototype pollution. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Walk a parsed payload once: refuse forbidden keys and nesting deeper than `maxDepth`. */
export function checkShape(
  value: unknown,
  maxDepth: number,
): { reason: ReasonCode; message: string; path: string } | undefined {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 1, path: '' }];
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; depth: number; path: string };
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (item.depth > maxDepth)
      return {
        reason: 'payload_too_deep',
        message: `data nests deeper than ${maxDepth} levels`,
        path: item.path,
      };
    if (Array.isArray(item.value)) {
      for (let i = 0; i < item.value.length; i++)
        stack.push({ value: item.value[i], depth: item.depth + 1, path: `${item.path}[${i}]` });
      continue;
    }
    for (const key of Object.keys(item.value)) {
      if (FORBIDDEN_KEYS.has(key))
        return {
          reason: 'forbidden_key',
          message: `data has a forbidden key ${key}`,
          path: `${item.path}.${key}`,
        };
      stack.push({
        value: (item.value as Record<string, unknown>)[key],
        depth: item.depth + 1,
        path: `${item.path}.${key}`,
      });
    }
  }
  return undefined;
}

/**
 * The number of keys in all objects of `value` when checkShape would find nothing, else -1; without
 * allocating beyond Object.keys, and recursion is bounded by `maxDepth`.
 */
export function cleanShapeKeys(value: unknown, depth: number, maxDepth: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (depth > maxDepth) return -1;
  let count = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = cleanShapeKeys(value[i], depth + 1, maxDepth);
      if (inner < 0) return -1;
      count += inner;
    }
    return count;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  count = keys.length;
  for (const key of keys) {
    if (FORBIDDEN_KEYS.has(key)) return -1;
    const inner = cleanShapeKeys(record[key], depth + 1, maxDepth);
    if (inner < 0) return -1;
    count += inner;
  }
  return count;
}
