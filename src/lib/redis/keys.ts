/**
 * Every Redis key streamsink touches is built here. A stream and the keys that go with it (its dedupe keys and
 * its dead-letter stream) share one hash tag, `{<stream>}`, so Lua scripts and MULTI blocks that touch them
 * together run unchanged on Redis Cluster. Layout (documented in docs/wire-format.md#keys):
 *
 *   <prefix>:{<stream>}                 the stream itself
 *   <prefix>:{<stream>}:dlq             its dead-letter stream
 *   <prefix>:{<stream>}:dedupe:<id>     idempotent-publish marker: "<first entry id> <content hash>", with a TTL
 *   <prefix>:{<stream>}:meta            the stream's metadata hash (partition count; absent: unpartitioned)
 *   <prefix>:{<stream>}:doorbell        a list of at most one item, pushed after each publish: an idle worker
 *                                       waits on it with BLPOP (read-loop.ts) instead of polling
 *
 * A partitioned stream (src/lib/partitions/) has the same set of keys per partition under the partition's
 * own tag, `{<stream>/<p>/<n>}` (partition-tags.ts), plus the partition's lease:
 *
 *   <prefix>:{<stream>/<p>/<n>}         partition p's stream
 *   <prefix>:{<stream>/<p>/<n>}:dlq     its dead-letter stream
 *   <prefix>:{<stream>/<p>/<n>}:dedupe:<id>
 *   <prefix>:{<stream>/<p>/<n>}:lease:<group>   which worker of <group> owns partition p (ordered consumption)
 */
export interface StreamKeys {
  /** Logical stream name, as given on the command line (`payments`). */
  readonly name: string;
  readonly stream: string;
  readonly deadLetter: string;
  dedupe(eventId: string): string;
  /** Rung (LPUSH + LTRIM 0 0) after entries are added, so a waiting worker reads at once. */
  readonly doorbell: string;
  /** Set for one partition of a partitioned stream. */
  readonly partition?: number;
}

export interface PartitionKeys extends StreamKeys {
  readonly partition: number;
  /** The partition's hash tag, without braces. */
  readonly tag: string;
  readonly lease: string;
}

/** The stream's metadata hash; it shares the unpartitioned stream's tag. */
export function streamMetaKey(prefix: string, name: string): string {
  checkName(name);
  return `${prefix}:{${name}}:meta`;
}

export function partitionKeys(prefix: string, name: string, partition: number, tag: string): PartitionKeys {
  checkName(name);
  if (tag.includes('{') || tag.includes('}'))
    throw new RangeError(`partition tag must not contain braces: ${tag}`);
  const base = `${prefix}:{${tag}}`;
  return {
    name,
    partition,
    tag,
    stream: base,
    deadLetter: `${base}:dlq`,
    dedupe: (eventId: string) => `${base}:dedupe:${eventId}`,
    doorbell: `${base}:doorbell`,
    lease: `${base}:lease`,
  };
}

function checkName(name: string): void {
  if (name.includes('{') || name.includes('}')) {
    throw new RangeError(`stream name must not contain braces: ${name}`);
  }
}

export function streamKeys(prefix: string, name: string): StreamKeys {
  checkName(name);
  const base = `${prefix}:{${name}}`;
  return {
    name,
    stream: base,
    deadLetter: `${base}:dlq`,
    dedupe: (eventId: string) => `${base}:dedupe:${eventId}`,
    doorbell: `${base}:doorbell`,
  };
}

/**
 * Ordered consumption (src/consumers/partitions/): the lease of partition p for one consumer group (two
 * pipelines reading the same stream in order own its partitions independently), under the partition's tag.
 */
export function partitionLeaseKey(keys: PartitionKeys, group: string): string {
  return `${keys.lease}:${group}`;
}

/** The live members of a group reading a partitioned stream in order: a ZSET, score = last heartbeat (ms). */
export function groupMembersKey(prefix: string, name: string, group: string): string {
  checkName(name);
  return `${prefix}:{${name}}:members:${group}`;
}
