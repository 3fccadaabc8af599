import type { PublishInput } from '../../src/producers/prepare-event.ts';

/**
 * The demo's traffic, pure: event `n` of a run. Payments go authorized -> captured -> refunded (three events
 * each, keyed by payment id, as the payments pipeline's contract says); one payment in 15 is in JPY, which
 * the pipeline refuses by default, and one event in 53 is a raw entry whose data is broken JSON.
 */
export type DemoEvent =
  | { kind: 'event'; input: PublishInput<Record<string, unknown>> }
  | { kind: 'malformed'; fields: string[] };

export const JPY_EVERY = 15;
export const MALFORMED_EVERY = 53;
const TYPES = ['payment.authorized', 'payment.captured', 'payment.refunded'] as const;

export function demoEvent(n: number, runId: string, now: Date): DemoEvent {
  const id = `demo-${runId}-${n}`;
  if (n % MALFORMED_EVERY === MALFORMED_EVERY - 1) {
    return {
      kind: 'malformed',
      // In wire order (docs/wire-format.md), so it is the data that is refused, not the envelope.
      fields: [
        'id',
        id,
        'type',
        'payment.captured',
        'v',
        '1',
        'key',
        id,
        'ts',
        now.toISOString(),
        'data',
        '{"paymentId":',
      ],
    };
  }
  const k = Math.floor(n / 3);
  const paymentId = `demo-${runId}-pay-${k}`;
  return {
    kind: 'event',
    input: {
      id,
      type: TYPES[n % 3] as string,
      key: paymentId,
      ts: now.toISOString(),
      data: {
        paymentId,
        accountId: `acct-${k % 13}`,
        amountMinor: 100 + ((k * 37) % 900),
        currency: k % JPY_EVERY === JPY_EVERY - 1 ? 'JPY' : ['EUR', 'USD', 'GBP'][k % 3],
      },
    },
  };
}
