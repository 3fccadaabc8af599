/** Said at start by `streamsink publish` and the worker when STREAMSINK_MAXLEN is set (docs/retention.md). */
export function maxLenWarning(maxLen: number): string {
  return (
    `STREAMSINK_MAXLEN=${maxLen} trims the stream on every publish whether or not the consumer groups have ` +
    'read the entries: it can lose events. Prefer the safe trim (`streamsink stream trim`, or ' +
    'STREAMSINK_TRIM_INTERVAL_MS on the worker), which removes only what every group acknowledged'
  );
}
