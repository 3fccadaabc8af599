/**
 * The entries this worker holds: read or claimed, not yet acknowledged, dead-lettered or let go. Its size is
 * what STREAMSINK_MAX_IN_FLIGHT bounds. Each entry remembers when its lease (its pending-idle clock) was last
 * reset, so the lease renewer can keep slow work from being reclaimed by other workers, and when it was
 * taken, so liveness can tell work that is stuck (docs/metrics.md#health-endpoints).
 */
export interface InFlight {
  readonly size: number;
  has(id: string): boolean;
  add(ids: readonly string[], at: number): void;
  /** Let entries go; wakes whoever waits for room. */
  remove(ids: readonly string[]): void;
  /** Ids whose lease was last reset at or before `before`. */
  leasedBefore(before: number): string[];
  markLeased(ids: readonly string[], at: number): void;
  /** When the entry held longest was taken (read or claimed); undefined when nothing is held. O(1). */
  oldestTakenAt(): number | undefined;
}

export function createInFlight(onChange: () => void): InFlight {
  const leases = new Map<string, number>();
  // Insertion-ordered and never re-set while held, with non-decreasing times: the first one is the oldest.
  const taken = new Map<string, number>();
  return {
    get size() {
      return leases.size;
    },
    has: (id) => leases.has(id),
    add(ids, at) {
      for (const id of ids) {
        leases.set(id, at);
        if (!taken.has(id)) taken.set(id, at);
      }
      onChange();
    },
    remove(ids) {
      for (const id of ids) {
        leases.delete(id);
        taken.delete(id);
      }
      onChange();
    },
    leasedBefore(before) {
      const out: string[] = [];
      for (const [id, at] of leases) if (at <= before) out.push(id);
      return out;
    },
    markLeased(ids, at) {
      for (const id of ids) if (leases.has(id)) leases.set(id, at);
    },
    oldestTakenAt() {
      for (const at of taken.values()) return at;
      return undefined;
    },
  };
}
