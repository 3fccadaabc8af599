import { z } from 'zod';
import type { Envelope } from '../../../lib/envelope.ts';
import { PoisonMessageError } from '../../../lib/errors.ts';
import { createEventRegistry, type EventRegistry } from '../../../lib/event-registry.ts';

/**
 * The payments event contract: `payment.authorized`, `payment.captured`, `payment.refunded`, version 1, keyed
 * by paymentId. Producers validate against the same registry before publishing.
 */
export const PAYMENT_TYPES = ['payment.authorized', 'payment.captured', 'payment.refunded'] as const;
export type PaymentType = (typeof PAYMENT_TYPES)[number];

/** Lifecycle order; a payment's status only ever moves up it. */
export const PAYMENT_STATUS_RANK: Readonly<Record<PaymentType, 1 | 2 | 3>> = {
  'payment.authorized': 1,
  'payment.captured': 2,
  'payment.refunded': 3,
};

const identifier = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, '1-128 characters from A-Z a-z 0-9 . _ : -');

export const paymentDataSchema = z.object({
  paymentId: identifier,
  accountId: identifier,
  // zod 4's int() is bounded to safe integers, so the value survives JSON and JS arithmetic exactly.
  amountMinor: z.number().int().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR'),
});

export type PaymentData = z.infer<typeof paymentDataSchema>;

export function createPaymentsRegistry(): EventRegistry {
  return createEventRegistry(PAYMENT_TYPES.map((type) => ({ type, v: 1, schema: paymentDataSchema })));
}

/** One payment event, checked and typed: what the fold works on. */
export interface PaymentEvent {
  eventId: string;
  type: PaymentType;
  paymentId: string;
  accountId: string;
  currency: string;
  amountMinor: number;
}

/**
 * Check an envelope against the payments contract and the allowed currencies. Pure; throws
 * {@link PoisonMessageError} with the registry's reason code (unknown_type, unsupported_version,
 * schema_violation) or `unsupported_currency`.
 */
export function parsePaymentEvent(
  envelope: Envelope,
  registry: EventRegistry,
  currencies: ReadonlySet<string>,
): PaymentEvent {
  const checked = registry.check(envelope);
  if (!checked.ok) {
    const detail = checked.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new PoisonMessageError(checked.reason, `${checked.reason}: ${detail}`);
  }
  const data = checked.data as PaymentData;
  checkPaymentRules(envelope.key, data, currencies);
  return {
    eventId: envelope.id,
    type: envelope.type as PaymentType,
    paymentId: data.paymentId,
    accountId: data.accountId,
    currency: data.currency,
    amountMinor: data.amountMinor,
  };
}

/**
 * The rules beyond the schema: a payment event is keyed by its paymentId, and its currency is one the worker
 * allows. Pure; throws {@link PoisonMessageError} (`schema_violation`, `unsupported_currency`).
 */
export function checkPaymentRules(key: string, data: PaymentData, currencies: ReadonlySet<string>): void {
  if (key !== data.paymentId)
    throw new PoisonMessageError(
      'schema_violation',
      'schema_violation: key: a payment event is keyed by its data.paymentId',
    );
  if (!currencies.has(data.currency))
    throw new PoisonMessageError(
      'unsupported_currency',
      `unsupported_currency: data.currency: ${data.currency} is not one of ${[...currencies].join(', ')}`,
    );
}
