/**
 * The entries this worker holds: read or claimed, not yet acknowledged, dead-lettered or let go. Its size is
 * what STREAMSINK_MAX_IN_FLIGHT bounds and its bytes what STREAMSINK_MAX_IN_FLIGHT_BYTES bounds. Each entry
 * remembers when its lease (its pending-idle clock) was last reset, so the lease renewer can keep slow work
 * from being reclaimed by other workers, and when it was taken, so liveness can tell work that is stuck
 * (docs/metrics.md#health-endpoints).
 */
export interface InFlight {
  readonly size: number;
  /** Sum of the held entries' sizes in bytes (as measured by Redis, see read-entries.lua). */
  readonly bytes: number;
  has(id: string): boolean;
  /** `sizes[i]` is the size in bytes of `ids[i]` (0 when unknown). */
  add(ids: readonly string[], at: number, sizes?: readonly number[]): void;
  /** Let entries go; wakes whoever waits for room. */
  remove(ids: readonly string[]): void;
  /** Ids whose lease was last reset at or before `before`. */
  leasedBefore(before: number): string[];
  markLeased(ids: readonly string[], at: number): void;
  /** When the entry held longest was taken (read or claimed); undefined when nothing is held. O(1). */
  oldestTakenAt(): number | undefined;
}

interface Held {
  /** When its lease (pending-idle clock) was last reset. */
  at: number;
  bytes: number;
  /** When it was first taken; kept when the same entry is added again while held. */
  takenAt: number;
}

export function createInFlight(onChange: () => void): InFlight {
  const leases = new Map<string, Held>();
  // Insertion-ordered (a re-added id keeps its place), with non-decreasing take times: the first is the oldest.
  let bytes = 0;
  return {
    get size() {
      return leases.size;
    },
    get bytes() {
      return bytes;
    },
    has: (id) => leases.has(id),
    add(ids, at, sizes) {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as string;
        const size = sizes?.[i] ?? 0;
        const held = leases.get(id);
        if (held) {
          bytes += size - held.bytes;
          held.at = at;
          held.bytes = size;
        } else {
          bytes += size;
          leases.set(id, { at, bytes: size, takenAt: at });
        }
      }
      onChange();
    },
    remove(ids) {
      for (const id of ids) {
        const held = leases.get(id);
        if (!held) continue;
        bytes -= held.bytes;
        leases.delete(id);
      }
      onChange();
    },
    leasedBefore(before) {
      const out: string[] = [];
      for (const [id, held] of leases) if (held.at <= before) out.push(id);
      return out;
    },
    markLeased(ids, at) {
      for (const id of ids) {
        const held = leases.get(id);
        if (held) held.at = at;
      }
    },
    oldestTakenAt() {
      for (const held of leases.values()) return held.takenAt;
      return undefined;
    },
  };
}
