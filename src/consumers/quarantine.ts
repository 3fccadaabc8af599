import { describeError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { retry } from './retry.ts';
import { isNoGroupError, type StreamClient } from './stream-client.ts';
import type { StreamEntry } from './types.ts';

/**
 * Poison-pill isolation for messages that crash the process (OOM, native crash, a handler that exits).
 *
 * Every entry a dying process holds comes back through XAUTOCLAIM with its delivery count raised, so without
 * this the batch-mates of a crash-looping message would reach STREAMSINK_MAX_DELIVERIES with it and be
 * dead-lettered for their neighbour's sake. A claimed entry at the suspect threshold has been held by
 * processes that died (or left it pending) at least twice: it is processed alone, as a batch of one, with
 * nothing else in flight in this worker. Reading and reclaiming hold off, the other in-flight batches finish,
 * then the suspects run one at a time. If one kills the process again, only its own count rises. A suspect is
 * claimed alone and ends its reclaim round; the next round runs as soon as the quarantine empties, not a claim
 * interval later (reclaim-due.ts), so a backlog of suspects runs back to back.
 *
 * Suspects waiting their turn are held (they count as in flight, their leases are renewed), but while they
 * wait their delivery count is lowered by one (`XCLAIM ... RETRYCOUNT n-1 JUSTID`) and set back right before
 * they run: a crash caused by another entry then costs them nothing, since the next claim adds the one back.
 */

/** Delivery count from which a claimed entry is processed alone. Pure. */
export function suspectThreshold(maxDeliveries: number): number {
  // 2 would quarantine everything a single crash (a routine OOM kill, a lost node) left behind; 3 means two
  // deaths while holding it. Never below 2: a first delivery is never a suspect.
  return Math.max(2, Math.min(3, maxDeliveries));
}

/**
 * Whether a claimed entry must be processed in quarantine. Pure. Entries over `maxDeliveries` are not: they
 * are dead-lettered without being processed, which cannot crash anything. With `maxDeliveries` 1 nothing is
 * (a second delivery is already over the limit), so batch-mates cannot be told apart from the culprit.
 */
export function isSuspect(deliveryCount: number, maxDeliveries: number): boolean {
  return deliveryCount >= suspectThreshold(maxDeliveries) && deliveryCount <= maxDeliveries;
}

export interface QuarantineDeps {
  client: Pick<StreamClient, 'setDeliveryCount'>;
  /** Process one suspect as a batch of one and let it go from in-flight; never throws. */
  processAlone: (entry: StreamEntry) => Promise<void>;
  /** Resolves once no other batch is in flight (nothing new is dispatched while the quarantine is active). */
  othersIdle: () => Promise<void>;
  /** Called when the quarantine empties: reading may resume. */
  onIdle: () => void;
  /** Aborted when the worker gives up (shutdown deadline): waiting suspects stay pending. */
  giveUp: AbortSignal;
  backoff: (attempt: number) => number;
  logger: Logger;
}

export interface Quarantine {
  /** Suspects waiting or running: the read loop neither reads nor reclaims while true. */
  readonly active: boolean;
  /** Take on suspects (already counted in flight by the caller). */
  add(entries: readonly StreamEntry[]): void;
  /** Resolves when no suspect waits or runs (or the worker gave up). */
  idle(): Promise<void>;
}

export function createQuarantine(deps: QuarantineDeps): Quarantine {
  const { client, logger, giveUp } = deps;
  /** Taken on, count not yet lowered. */
  const toLower: StreamEntry[] = [];
  const waiting: StreamEntry[] = [];
  let running: Promise<void> | undefined;

  /** One Redis step, retried until it works or the worker gives up; false when given up. */
  async function step(what: string, run: () => Promise<unknown>): Promise<boolean> {
    const result = await retry(run, {
      backoff: deps.backoff,
      signal: giveUp,
      // NOGROUP: nothing pending any more, so nothing to adjust: done.
      shouldRetry: (error) => !isNoGroupError(error),
      onRetry: (error, attempt) =>
        logger.warn({ err: describeError(error), attempt }, `quarantine: ${what} failed, retrying`),
    });
    return result.status !== 'given_up';
  }

  async function lowerNew(): Promise<void> {
    const byCount = new Map<number, string[]>();
    for (const e of toLower.splice(0)) {
      const ids = byCount.get(e.deliveryCount - 1) ?? [];
      ids.push(e.id);
      byCount.set(e.deliveryCount - 1, ids);
    }
    for (const [count, ids] of byCount) {
      // Best effort: if it fails, a crash meanwhile raises these counts as it did before quarantine existed.
      try {
        await client.setDeliveryCount(ids, count);
      } catch (error) {
        logger.warn({ err: describeError(error), count: ids.length }, 'quarantine: lowering counts failed');
      }
    }
  }

  async function drain(): Promise<void> {
    while (waiting.length > 0 && !giveUp.aborted) {
      await lowerNew();
      await deps.othersIdle();
      if (giveUp.aborted) break;
      if (toLower.length > 0) continue; // more arrived while waiting: lower them before anything runs
      const entry = waiting.shift() as StreamEntry;
      if (
        !(await step('restoring a delivery count', () =>
          client.setDeliveryCount([entry.id], entry.deliveryCount),
        ))
      ) {
        waiting.unshift(entry);
        break;
      }
      logger.warn(
        { entryId: entry.id, deliveryCount: entry.deliveryCount, waiting: waiting.length },
        'suspected crash loop: processing entry alone',
      );
      await deps.processAlone(entry);
    }
  }

  function kick(): void {
    if (running) return;
    running = drain()
      .catch((error) => logger.error({ err: describeError(error) }, 'quarantine crashed'))
      .finally(() => {
        running = undefined;
        if (waiting.length > 0 && !giveUp.aborted) kick();
        else deps.onIdle();
      });
  }

  return {
    get active() {
      return waiting.length > 0 || running !== undefined;
    },
    add(entries) {
      if (entries.length === 0) return;
      toLower.push(...entries);
      waiting.push(...entries);
      kick();
    },
    async idle() {
      while (running) await running;
    },
  };
}
