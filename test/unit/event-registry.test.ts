import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEventRegistry } from '../../src/lib/event-registry.ts';

const registry = createEventRegistry([
  {
    type: 'payment.captured',
    v: 1,
    schema: z.object({ amountMinor: z.number().int(), currency: z.string() }),
  },
  {
    type: 'payment.captured',
    v: 2,
    schema: z.object({
      amount: z.object({ minor: z.number().int().positive(), currency: z.string().length(3) }),
      lines: z.array(z.object({ sku: z.string() })).optional(),
    }),
  },
]);

describe('event registry', () => {
  it('knows declared types and versions', () => {
    expect(registry.has('payment.captured')).toBe(true);
    expect(registry.has('payment.captured', 2)).toBe(true);
    expect(registry.has('payment.captured', 3)).toBe(false);
    expect(registry.has('refund.issued')).toBe(false);
    expect(registry.definitions).toHaveLength(2);
  });

  it('accepts valid data per version', () => {
    expect(
      registry.check({ type: 'payment.captured', v: 1, data: { amountMinor: 5, currency: 'EUR' } }),
    ).toEqual({
      ok: true,
      data: { amountMinor: 5, currency: 'EUR' },
    });
    expect(
      registry.check({ type: 'payment.captured', v: 2, data: { amount: { minor: 5, currency: 'EUR' } } }).ok,
    ).toBe(true);
  });

  it('names unknown types and unsupported versions with the known ones', () => {
    expect(registry.check({ type: 'refund.issued', v: 1, data: {} })).toMatchObject({
      ok: false,
      reason: 'unknown_type',
      issues: [{ path: 'type' }],
    });
    const r = registry.check({ type: 'payment.captured', v: 9, data: {} });
    expect(r).toMatchObject({ ok: false, reason: 'unsupported_version', issues: [{ path: 'v' }] });
    if (!r.ok) expect(r.issues[0]?.message).toContain('known: 1, 2');
  });

  it('reports every schema issue with its full dotted path under data', () => {
    const r = registry.check({
      type: 'payment.captured',
      v: 2,
      data: { amount: { minor: -1, currency: 'EURO' }, lines: [{ sku: 'a' }, { sku: 7 }] },
    });
    if (r.ok) throw new Error('expected a failure');
    expect(r.reason).toBe('schema_violation');
    expect(r.issues.map((i) => i.path).sort()).toEqual([
      'data.amount.currency',
      'data.amount.minor',
      'data.lines.1.sku',
    ]);
    for (const issue of r.issues) expect(issue.message.length).toBeGreaterThan(0);
  });

  it('refuses a type and version declared twice', () => {
    const schema = z.object({});
    expect(() =>
      createEventRegistry([
        { type: 'a.b', v: 1, schema },
        { type: 'a.b', v: 1, schema },
      ]),
    ).toThrow(/a\.b v1 is declared twice/);
  });

  it('refuses keys an object schema does not name (strict by default), at any version', () => {
    const r = registry.check({
      type: 'payment.captured',
      v: 1,
      data: { amountMinor: 5, currency: 'EUR', pad: 'x'.repeat(1000) },
    });
    if (r.ok) throw new Error('expected a failure');
    expect(r.reason).toBe('schema_violation');
    expect(r.issues[0]?.message).toMatch(/pad/);
  });

  it('lets extra keys through only where the schema says so (loose, passthrough, catchall)', () => {
    const open = createEventRegistry([
      { type: 'a.loose', v: 1, schema: z.object({ n: z.number() }).loose() },
      { type: 'a.passthrough', v: 1, schema: z.object({ n: z.number() }).passthrough() },
      { type: 'a.catchall', v: 1, schema: z.object({ n: z.number() }).catchall(z.string()) },
    ]);
    for (const type of ['a.loose', 'a.passthrough', 'a.catchall'])
      expect(open.check({ type, v: 1, data: { n: 1, extra: 'kept' } })).toEqual({
        ok: true,
        data: { n: 1, extra: 'kept' },
      });
  });
});

describe('the payments contract', () => {
  it('refuses an SDK-valid-looking payment event that carries an undeclared key', async () => {
    const { createPaymentsRegistry } = await import('../../src/consumers/pipelines/payments/events.ts');
    const { prepareEvent } = await import('../../src/producers/prepare-event.ts');
    const { ValidationError } = await import('../../src/lib/errors.ts');
    const data = { paymentId: 'p1', accountId: 'a1', amountMinor: 100, currency: 'EUR' };
    const options = {
      registry: createPaymentsRegistry(),
      maxPayloadBytes: 1024 * 1024,
      newId: () => 'id-1',
      now: () => 0,
    };
    expect(prepareEvent({ type: 'payment.captured', key: 'p1', data }, options).ok).toBe(true);
    const r = prepareEvent(
      { type: 'payment.captured', key: 'p1', data: { ...data, note: 'y'.repeat(900_000) } },
      options,
    );
    if (r.ok) throw new Error('expected a rejection');
    expect(r.error).toBeInstanceOf(ValidationError);
    expect((r.error as InstanceType<typeof ValidationError>).reason).toBe('schema_violation');
  });
});
