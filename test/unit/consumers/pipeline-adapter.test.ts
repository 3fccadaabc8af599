import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { definePipeline } from '../../../src/consumers/define-pipeline.ts';
import { toRuntimePipeline } from '../../../src/consumers/pipeline-adapter.ts';
import { PoisonMessageError, ValidationError } from '../../../src/lib/errors.ts';

const where = { entryId: '1-0', stream: 's' };
const base = { id: 'e1', type: 'order.line_added', v: 1, key: 'o1', ts: '2026-11-21T10:00:00.000Z' };

function pipeline(check: (event: { data: { amountMinor: number } }) => void) {
  return toRuntimePipeline(
    definePipeline({
      name: 'orders',
      events: [{ type: 'order.line_added', v: 1, schema: z.object({ amountMinor: z.number().int() }) }],
      check,
      async apply() {},
    }),
  );
}

describe('the runtime adapter of a defined pipeline', () => {
  it('refuses by the schema, by the pipeline check with its own reason, and keeps a malformed reason out', () => {
    const p = pipeline((e) => {
      if (e.data.amountMinor < 0) throw new PoisonMessageError('negative_amount', 'negative');
      if (e.data.amountMinor === 13) throw new PoisonMessageError('Not A Reason', 'unlucky');
      if (e.data.amountMinor === 7) throw new Error('bug');
    });
    const reason = (data: unknown) => {
      const r = p.accept({ ...base, data: data as Record<string, unknown> }, where);
      return r.ok ? 'ok' : r.error.reason;
    };
    expect(reason({ amountMinor: 5 })).toBe('ok');
    expect(reason({ amountMinor: 'x' })).toBe('schema_violation');
    expect(reason({ amountMinor: 5, extra: 1 })).toBe('schema_violation');
    expect(reason({ amountMinor: -1 })).toBe('negative_amount');
    expect(reason({ amountMinor: 13 })).toBe('schema_violation');
    expect(reason({ amountMinor: 7 })).toBe('schema_violation');
    expect(p.accept({ ...base, type: 'order.gone', data: {} }, where)).toMatchObject({
      ok: false,
      error: { reason: 'unknown_type' },
    });
  });

  it('turns a poison thrown by another copy of the package (same code, other class) into ours', () => {
    const foreign = Object.assign(new Error('from elsewhere'), {
      code: 'poison_message',
      reason: 'negative_amount',
    });
    const p = pipeline(() => {
      throw foreign;
    });
    const r = p.accept({ ...base, data: { amountMinor: 1 } }, where);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toBeInstanceOf(PoisonMessageError);
      expect(r.error.reason).toBe('negative_amount');
    }
  });

  it('refuses a definition with an unknown key, naming it, or with both apply and handle', () => {
    expect(() => definePipeline({ name: 'x', apply: async () => {}, idempotant: true } as never)).toThrow(
      /idempotant/,
    );
    expect(() => definePipeline({ name: 'x', apply: async () => {}, handle: async () => {} })).toThrow(
      ValidationError,
    );
    expect(() => definePipeline({ name: 'Bad Name', apply: async () => {} })).toThrow(/name/);
  });
});
