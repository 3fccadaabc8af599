import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import type { InFlight } from './in-flight.ts';
import type { StreamClient } from './stream-client.ts';
import { sleep } from './wakeup.ts';

/**
 * Keeps the entries this worker holds from looking abandoned. An entry's pending-idle time grows from the
 * moment it was read; when work is slow (Postgres down and the batch retrying, a lock held, a long queue)
 * it would pass STREAMSINK_CLAIM_IDLE_MS and another worker would claim it, raising its delivery count each
 * time until a good message is dead-lettered. `XCLAIM <ids> <self> <interval/2> JUSTID` resets the idle time
 * and, with JUSTID, leaves the delivery count alone; the min-idle argument keeps it from taking back an entry
 * another worker has just claimed.
 */
export interface LeaseRenewerDeps {
  client: StreamClient;
  inFlight: InFlight;
  claimIdleMs: number;
  logger: Logger;
  metrics: WorkerMetrics | undefined;
  now: () => number;
  stop: AbortSignal;
}

const CHUNK = 1000;

/** How often leases are renewed: a third of the claim idle time, so two renewals can fail before a claim. */
export function renewalInterval(claimIdleMs: number): number {
  return Math.max(25, Math.floor(claimIdleMs / 3));
}

export async function runLeaseRenewer(deps: LeaseRenewerDeps): Promise<void> {
  const interval = renewalInterval(deps.claimIdleMs);
  while (!deps.stop.aborted) {
    await sleep(interval, deps.stop);
    if (deps.stop.aborted) break;
    await renewOnce(deps, interval);
  }
}

export async function renewOnce(deps: LeaseRenewerDeps, interval: number): Promise<number> {
  const due = deps.inFlight.leasedBefore(deps.now() - interval);
  let renewed = 0;
  for (let i = 0; i < due.length; i += CHUNK) {
    const chunk = due.slice(i, i + CHUNK);
    const at = deps.now();
    try {
      // Only entries idle for half an interval or more: ours are idle at least a whole interval (that is why
      // they are due), while one another worker claimed moments ago is not taken back from it.
      await deps.client.renewLease(chunk, Math.floor(interval / 2));
      deps.inFlight.markLeased(chunk, at);
      renewed += chunk.length;
    } catch (error) {
      deps.metrics?.redisErrors.inc({ kind: 'lease' });
      deps.logger.warn({ err: describeError(error), count: chunk.length }, 'lease renewal failed');
      break;
    }
  }
  if (renewed > 0) deps.logger.debug({ renewed }, 'leases renewed');
  return renewed;
}
