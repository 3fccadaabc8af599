import { readFileSync } from 'node:fs';

/**
 * What a V8 heap snapshot (`--heapsnapshot-signal`, `v8.writeHeapSnapshot`) holds, by kind: the self size of
 * every node summed by its type (object, string, code, ...) and, for objects and native nodes, by constructor
 * name. Self sizes only: each byte is counted once, in the node that owns it.
 */
export interface HeapGroup {
  kind: string;
  count: number;
  bytes: number;
}

export interface HeapSummary {
  totalBytes: number;
  byType: HeapGroup[];
  /** The largest object and native groups by constructor (`object Array`, `native system / Map`, ...). */
  byConstructor: HeapGroup[];
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export function summarizeHeapSnapshot(path: string, top = 15): HeapSummary {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const byType = new Map<string, HeapGroup>();
  const byName = new Map<string, HeapGroup>();
  let total = 0;
  const add = (map: Map<string, HeapGroup>, kind: string, bytes: number) => {
    const g = map.get(kind) ?? { kind, count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += bytes;
    map.set(kind, g);
  };
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] as number] ?? 'unknown';
    const bytes = snap.nodes[i + sizeAt] as number;
    total += bytes;
    add(byType, type, bytes);
    if (type === 'object' || type === 'native')
      add(byName, `${type} ${snap.strings[snap.nodes[i + nameAt] as number]}`, bytes);
  }
  const sorted = (m: Map<string, HeapGroup>) => [...m.values()].sort((a, b) => b.bytes - a.bytes);
  return { totalBytes: total, byType: sorted(byType), byConstructor: sorted(byName).slice(0, top) };
}

export function formatHeapSummary(summary: HeapSummary): string {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const rows = (groups: HeapGroup[]) =>
    groups
      .map((g) => `    ${mib(g.bytes).padStart(10)}  ${String(g.count).padStart(8)}  ${g.kind}`)
      .join('\n');
  return (
    `heap snapshot: ${mib(summary.totalBytes)} in live objects (self sizes)\n` +
    `  by type (bytes, count):\n${rows(summary.byType)}\n` +
    `  largest constructors:\n${rows(summary.byConstructor)}\n`
  );
}
