/**
 * Every Redis key streamsink touches is built here. A stream and the keys that go with it (its dedupe keys and
 * its dead-letter stream) share one hash tag, `{<stream>}`, so Lua scripts and MULTI blocks that touch them
 * together run unchanged on Redis Cluster. Layout (documented in docs/wire-format.md#keys):
 *
 *   <prefix>:{<stream>}                 the stream itself
 *   <prefix>:{<stream>}:dlq             its dead-letter stream
 *   <prefix>:{<stream>}:dedupe:<id>     idempotent-publish marker: "<first entry id> <content hash>", with a TTL
 */
export interface StreamKeys {
  /** Logical stream name, as given on the command line (`payments`). */
  readonly name: string;
  readonly stream: string;
  readonly deadLetter: string;
  dedupe(eventId: string): string;
}

export function streamKeys(prefix: string, name: string): StreamKeys {
  if (name.includes('{') || name.includes('}')) {
    throw new RangeError(`stream name must not contain braces: ${name}`);
  }
  const base = `${prefix}:{${name}}`;
  return {
    name,
    stream: base,
    deadLetter: `${base}:dlq`,
    dedupe: (eventId: string) => `${base}:dedupe:${eventId}`,
  };
}
