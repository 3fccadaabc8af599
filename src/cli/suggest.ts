/**
 * "Did you mean": the known name closest to what was typed, by edit distance (Damerau: a swap of two
 * neighbouring letters counts as one edit), when it is close enough to be a typo. Pure.
 */
export function suggest(typed: string, known: readonly string[]): string | undefined {
  const input = typed.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    // A prefix of a command ("stat", "dl") is what people type when they half remember it.
    const d = name.startsWith(input) && input.length >= 2 ? 1 : editDistance(input, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  // At most a third of the name may differ (at least one edit): "wroker" -> worker, "foo" -> nothing.
  const allowed = Math.max(1, Math.floor((best?.length ?? 0) / 3));
  return bestDistance <= allowed ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      let v = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
