import type { Logger } from '../lib/logger.ts';
import type { WorkerMetrics } from '../lib/metrics.ts';
import type { BatchResult, DeadLetterer, DeadLetterRecord, DeadLetterResult } from './types.ts';

/**
 * The last stage of a batch: move its poison to the dead-letter stream (one atomic script per call, see
 * dead-letter.ts), retried like any Redis step, and count and log only what this worker moved.
 */
export interface DeadLetterStepDeps {
  deadLetterer: DeadLetterer | undefined;
  /** Runs a Redis step until it succeeds, the worker gives up, or the group is gone (NOGROUP). */
  redisStep: (step: () => Promise<unknown>) => Promise<'done' | 'given_up' | 'group_gone'>;
  logger: Logger;
  metrics: WorkerMetrics | undefined;
  labels: { stream: string; group: string; pipeline: string };
}

export function createDeadLetterStep(
  deps: DeadLetterStepDeps,
): (records: DeadLetterRecord[], result: BatchResult) => Promise<void> {
  const { deadLetterer, redisStep, logger, metrics, labels } = deps;
  /**
   * Move poison to the dead-letter stream, and count and log only what this worker moved. An entry the group
   * lost (NOGROUP, or a group recreated behind it) was NOT moved: it is left for the recreated group to
   * deliver again, and dead-lettered then. An entry no longer pending (`skipped`) was moved by this call's
   * own earlier attempt when the call was retried; otherwise another batch or consumer finished it (after a
   * redelivery) and counted it there.
   */
  return async function deadLetter(records: DeadLetterRecord[], result: BatchResult): Promise<void> {
    if (records.length === 0) return;
    if (!deadLetterer) {
      result.leftPending += records.length;
      logger.warn(
        { count: records.length, reasons: [...new Set(records.map((r) => r.reason))] },
        'no dead-letterer configured: poison entries left pending',
      );
      return;
    }
    let reply: DeadLetterResult | undefined;
    let attempts = 0;
    const step = await redisStep(async () => {
      attempts += 1;
      reply = await deadLetterer.deadLetter(records);
    });
    if (step === 'given_up') {
      result.leftPending += records.length;
      return;
    }
    const moved: DeadLetterRecord[] = [];
    const lost: DeadLetterRecord[] = [];
    const elsewhere: DeadLetterRecord[] = [];
    records.forEach((r, i) => {
      const status = step === 'group_gone' ? 'group_gone' : (reply?.statuses?.[i] ?? 'moved');
      if (status === 'group_gone') lost.push(r);
      else if (status === 'skipped' && attempts === 1) elsewhere.push(r);
      else moved.push(r);
    });
    if (elsewhere.length > 0)
      logger.info(
        { count: elsewhere.length, entryIds: elsewhere.slice(0, 20).map((r) => r.entry.id) },
        'poison no longer pending: already dead-lettered or acknowledged by another batch or consumer',
      );
    if (moved.length > 0) {
      result.deadLettered += moved.length;
      metrics?.messages.inc({ ...labels, outcome: 'dead_lettered' }, moved.length);
      for (const r of moved)
        logger.warn({ entryId: r.entry.id, eventId: r.eventId, reason: r.reason }, 'entry dead-lettered');
    }
    if (lost.length > 0) {
      result.leftPending += lost.length;
      logger.warn(
        {
          count: lost.length,
          entryIds: lost.slice(0, 20).map((r) => r.entry.id),
          reasons: [...new Set(lost.map((r) => r.reason))],
        },
        'consumer group gone: entries not dead-lettered; the recreated group delivers them again',
      );
    }
  };
}
