/**
 * How many entries the read loop may ask Redis for. Pure.
 *
 * The pending-idle clock of an entry starts at XREADGROUP, so an entry read long before it can be worked on
 * ages towards being reclaimed by another worker while it waits here. We therefore ask only for free capacity,
 * and while work is in flight we wait for room for a useful batch instead of reading tiny slivers (a read of 3
 * entries costs a round trip and a transaction of its own).
 */
export interface CapacityInput {
  /** Entries held now: read or claimed and not yet finished. */
  inFlight: number;
  /** STREAMSINK_MAX_IN_FLIGHT. */
  maxInFlight: number;
  /** STREAMSINK_BATCH_SIZE. */
  batchSize: number;
}

/** Entries to request (the XREADGROUP COUNT); 0 means "wait until in-flight work finishes". */
export function readCount({ inFlight, maxInFlight, batchSize }: CapacityInput): number {
  const free = Math.max(0, maxInFlight - inFlight);
  if (free === 0) return 0;
  if (inFlight === 0) return free;
  // Busy: only read once there is room for a whole batch (or the whole limit, when it is smaller), and then
  // whole batches: with a backlog every batch is full (800 free read as 500 + 300 would be two transactions
  // where the backlog needed 1.6), and the rest of the room fills at the next read.
  const worthReading = Math.min(batchSize, maxInFlight);
  return free >= worthReading ? free - (free % worthReading) : 0;
}

export interface ByteBudgetInput {
  /** Entries held now. */
  inFlight: number;
  /** Their bytes. */
  inFlightBytes: number;
  /** STREAMSINK_MAX_IN_FLIGHT_BYTES. */
  maxInFlightBytes: number;
}

/**
 * Bytes one read or claim may bring in (the script stops once its entries add up to this); 0 means "wait".
 * Pure. An idle worker may always take the whole budget, so one entry up to STREAMSINK_MAX_PAYLOAD_BYTES is
 * always readable; a busy one waits for a quarter of the budget to be free, the byte twin of the sliver rule.
 * The script may overshoot by its last entry, so held bytes stay under the budget plus one payload limit.
 */
export function readBytes({ inFlight, inFlightBytes, maxInFlightBytes }: ByteBudgetInput): number {
  const free = maxInFlightBytes - inFlightBytes;
  if (inFlight === 0) return maxInFlightBytes;
  return free >= maxInFlightBytes / 4 ? free : 0;
}

/**
 * How long an idle read loop waits before reading again, after `emptyReads` reads in a row found nothing:
 * 1 ms, doubling, up to `maxMs` (STREAMSINK_POLL_MS). Pure. Right after a burst the next events are likely
 * moments away; after a quiet spell an idle worker costs Redis one cheap script call per `maxMs`.
 */
export function idlePollDelay(emptyReads: number, maxMs: number): number {
  return Math.min(maxMs, 2 ** Math.min(emptyReads, 20));
}

/** Free capacity without the sliver rule: what reclaiming may take (claimed entries are already old). */
export function freeCapacity({ inFlight, maxInFlight }: Omit<CapacityInput, 'batchSize'>): number {
  return Math.max(0, maxInFlight - inFlight);
}
