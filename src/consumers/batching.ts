/**
 * Split what one read returned into batches of at most `batchSize`, keeping stream order. Pure.
 * Under light load a batch is whatever arrived: we never wait to fill one, so latency stays low.
 */
export function splitIntoBatches<T>(items: readonly T[], batchSize: number): T[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size ${batchSize}`);
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += batchSize) batches.push(items.slice(i, i + batchSize));
  return batches;
}
