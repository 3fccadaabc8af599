import type { ChaosCheck } from './check.ts';
import type { ChaosOptions } from './options.ts';
import type { ChaosPlan } from './plan.ts';
import type { PublishRecord } from './publisher.ts';
import type { WorkerRecord } from './worker-pool.ts';

export interface ChaosSummary {
  options: ChaosOptions;
  plan: ChaosPlan;
  record: PublishRecord;
  check: ChaosCheck;
  faults: Record<string, number>;
  faultErrors: string[];
  workers: WorkerRecord[];
  unexpectedExits: WorkerRecord[];
  /** Entries seen in XPENDING with a delivery count above 1 (sampled each second: a lower bound). */
  redeliveredObserved: number;
  /** Entries a SIGKILLed or SIGTERMed worker left pending: each had to be reclaimed and delivered again. */
  orphanedEntries: number;
  maxDeliveryCount: number;
  runSeconds: number;
  drainAfterLastFaultS: number;
  drainAfterLastPublishS: number;
  passed: boolean;
}

/** The human report, then one JSON line for machines. */
export function formatReport(s: ChaosSummary): string {
  const c = s.check;
  const totalFaults = Object.values(s.faults).reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...s.workers.map((w) => w.peakRssKiB));
  const sigterms = s.workers.filter((w) => w.termToExitMs !== undefined);
  const termMax = Math.max(0, ...sigterms.map((w) => w.termToExitMs ?? 0));
  const duplicatedRows = c.state.wrongBalances + c.state.unexpectedBalances + c.state.wrongPayments;
  const lines = [
    '',
    `== chaos report (seed ${s.options.seed}) ${s.passed ? 'PASSED' : 'FAILED'}`,
    `run                   ${s.runSeconds.toFixed(0)} s, ${s.options.workers} workers at a time, ${s.workers.length} worker processes in all`,
    `events                ${c.goodEvents} good payment events; ${s.plan.againPlain} published twice with plain XADD, ${s.plan.againSdk} twice through the idempotent SDK (${s.record.sdkDeduplicated} deduplicated at publish); ${c.poisonExpected} poison`,
    `stream entries        ${c.streamLength} (${s.record.goodEntries} good + ${c.poisonExpected} poison)`,
    `faults                ${totalFaults}: ${Object.entries(s.faults)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `applied               ${c.appliedEvents} of ${c.goodEvents} good events (inbox)`,
    `lost                  ${c.lost}`,
    `duplicated            ${duplicatedRows} projection rows off the model (balance error ${c.state.balanceError} minor units); payments exact: ${c.stateExact}`,
    `dead-lettered         ${c.deadLettered} (expected ${c.poisonExpected}): ${c.poisonDeadLetteredOnce} poison exactly once, ${c.poisonMissing} missing, ${c.poisonDuplicated} twice, ${c.poisonWrongReason} wrong reason, ${c.goodDeadLettered} good events`,
    `  by reason           ${JSON.stringify(c.deadLetterByReason)}`,
    `redeliveries          ${s.orphanedEntries} entries left pending by killed or stopped workers and reclaimed; ${s.redeliveredObserved} seen with delivery count > 1 in 1 s XPENDING samples (max ${s.maxDeliveryCount})`,
    `pending at end        ${c.pending}; consumers ${c.consumers}, holding entries: ${c.stuckConsumers.length === 0 ? 'none' : c.stuckConsumers.join(', ')}`,
    `drain                 ${s.drainAfterLastFaultS.toFixed(1)} s after the last fault, ${s.drainAfterLastPublishS.toFixed(1)} s after the last publish`,
    `workers               unexpected exits: ${s.unexpectedExits.length === 0 ? 'none' : s.unexpectedExits.map(describeExit).join(', ')}; SIGTERM to exit max ${termMax} ms over ${sigterms.length}`,
    `peak RSS              ${(peak / 1024).toFixed(0)} MiB (highest VmHWM of any worker)`,
  ];
  const slow = sigterms.filter((w) => (w.termToExitMs ?? 0) > 5000);
  if (slow.length > 0)
    lines.push(`slow SIGTERM exits    ${slow.map((w) => `${w.consumer} ${w.termToExitMs} ms`).join(', ')}`);
  if (s.faultErrors.length > 0) lines.push(`fault errors          ${s.faultErrors.join('; ')}`);
  if (c.failures.length > 0) lines.push('failures:', ...c.failures.map((f) => `  - ${f}`));
  lines.push(
    '',
    `CHAOS_RESULT ${JSON.stringify({
      passed: s.passed,
      seed: s.options.seed,
      events: c.goodEvents,
      poison: c.poisonExpected,
      faults: s.faults,
      lost: c.lost,
      duplicatedRows,
      deadLettered: c.deadLettered,
      deadLetterExpected: c.poisonExpected,
      goodDeadLettered: c.goodDeadLettered,
      redeliveries: s.orphanedEntries,
      redeliveredObserved: s.redeliveredObserved,
      pending: c.pending,
      unexpectedExits: s.unexpectedExits.length,
      drainAfterLastFaultS: Number(s.drainAfterLastFaultS.toFixed(1)),
      peakRssMiB: Math.round(peak / 1024),
    })}`,
  );
  return lines.join('\n');
}

function describeExit(w: WorkerRecord): string {
  return `${w.consumer} (asked: ${w.expectation}, got ${w.exit?.code ?? w.exit?.signal})`;
}
