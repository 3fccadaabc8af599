import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics of the worker's periodic trim (docs/metrics.md#retention), on the registry the composition root
 * passes in. Labels: stream (logical name, or the partition key's name) and group.
 */
export interface RetentionMetrics {
  trimmed: Counter<'stream'>;
  floorAge: Gauge<'stream' | 'group'>;
  keep: Gauge<'stream'>;
  trimmedAt: Gauge<'stream'>;
}

export function createRetentionMetrics(registry: Registry): RetentionMetrics {
  const registers = [registry];
  return {
    trimmed: new Counter({
      name: 'streamsink_stream_trimmed_entries_total',
      help: 'Stream entries removed by the safe trim (read and acknowledged by every group, older than the replay window)',
      labelNames: ['stream'],
      registers,
    }),
    floorAge: new Gauge({
      name: 'streamsink_stream_trim_floor_age_seconds',
      help: 'Age of the oldest entry the group still needs (pending or undelivered); it stops trimming. 0 when the group acknowledged everything; aggregate with max',
      labelNames: ['stream', 'group'],
      registers,
    }),
    keep: new Gauge({
      name: 'streamsink_stream_trim_keep_seconds',
      help: 'STREAMSINK_TRIM_KEEP of this worker: the replay window the trim keeps',
      labelNames: ['stream'],
      registers,
    }),
    trimmedAt: new Gauge({
      name: 'streamsink_stream_trim_timestamp_seconds',
      help: 'Unix time of the last successful trim run',
      labelNames: ['stream'],
      registers,
    }),
  };
}
