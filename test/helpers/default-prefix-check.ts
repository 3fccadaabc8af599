import { Redis } from 'ioredis';

/**
 * `npm test` must leave nothing in the developer's Redis under the default key prefix (`streamsink`, what their
 * own workers use): every test uses its own prefix. After the run, this looks for keys under the default prefix
 * whose names carry this run's tag (test/helpers/names.ts): only this run's tests can have made those, so they
 * are deleted, and the run is failed naming them, so the test that leaked them gets fixed.
 */
export async function leakedUnderDefaultPrefix(redisUrl: string, runTag: string): Promise<string[]> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const leaked: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `streamsink:*_${runTag}*`, 'COUNT', 5000);
      leaked.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    for (let i = 0; i < leaked.length; i += 1000) await redis.unlink(...leaked.slice(i, i + 1000));
    return leaked;
  } finally {
    redis.disconnect();
  }
}

/** Leaked keys grouped by stream (`streamsink:{name}` and what hangs off it), with counts: for the message. */
export function summarizeLeak(keys: readonly string[]): string {
  const byStream = new Map<string, number>();
  for (const k of keys) {
    const stream = /^streamsink:\{[^}]*\}/.exec(k)?.[0] ?? k;
    byStream.set(stream, (byStream.get(stream) ?? 0) + 1);
  }
  return [...byStream.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([s, n]) => `  ${s}  ${n} key${n === 1 ? '' : 's'}`)
    .join('\n');
}
