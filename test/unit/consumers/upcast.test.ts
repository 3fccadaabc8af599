import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { definePipeline, type EventOf } from '../../../src/consumers/define-pipeline.ts';
import { eventVersions } from '../../../src/consumers/event-versions.ts';
import { toRuntimePipeline } from '../../../src/consumers/pipeline-adapter.ts';
import { checkUpcasters, createUpcaster } from '../../../src/consumers/upcast.ts';
import { ValidationError } from '../../../src/lib/errors.ts';
import { createEventRegistry } from '../../../src/lib/event-registry.ts';

/**
 * Upcasters (docs/pipelines.md#versions-and-upcasters): a chain v1 -> v2 -> v3 of pure functions, checked at
 * definePipeline time, so a pipeline sees only the newest version.
 */
const V1 = z.object({ amount: z.number() });
const V2 = z.object({ amountMinor: z.number().int() });
const V3 = z.object({ amountMinor: z.number().int(), currency: z.string().length(3) });
const toV2 = (d: z.output<typeof V1>) => ({ amountMinor: Math.round(d.amount * 100) });
const toV3 = (d: z.output<typeof V2>) => ({ ...d, currency: 'EUR' });

const chain = eventVersions('order.paid', 1, V1).upcast(V2, toV2).upcast(V3, toV3);
const base = { id: 'e1', type: 'order.paid', key: 'o1', ts: '2026-11-21T10:00:00.000Z' };
const where = { entryId: '1-0', stream: 's' };

describe('upcasters', () => {
  it('eventVersions builds plain, gapless specs: older ones carry their upcaster, the newest none', () => {
    expect(chain.specs.map((s) => [s.type, s.v, 'upcast' in s])).toEqual([
      ['order.paid', 1, true],
      ['order.paid', 2, true],
      ['order.paid', 3, false],
    ]);
    expect(checkUpcasters(chain.specs)).toEqual([]);
  });

  it('are typed: each step takes the parsed data of the one before, and the pipeline sees only the newest', () => {
    type Seen = EventOf<typeof chain.specs>;
    expectTypeOf<Seen['v']>().toEqualTypeOf<number>();
    expectTypeOf<Seen['data']>().toEqualTypeOf<{ amountMinor: number; currency: string }>();
    // @ts-expect-error: the v2 step returns a v3 input without currency
    eventVersions('t', 1, V2).upcast(V3, (d) => ({ amountMinor: d.amountMinor }));
    // @ts-expect-error: the v1 step reads a field v1 does not have
    eventVersions('t', 1, V1).upcast(V2, (d) => ({ amountMinor: d.amountMinor }));
  });

  it('raise an older event to the newest version, validating each step; the newest passes unchanged', () => {
    const pipeline = toRuntimePipeline(
      definePipeline({ name: 'orders', events: chain.specs, async apply() {} }),
    );
    const v1 = pipeline.accept({ ...base, v: 1, data: { amount: 12.5 } }, where);
    expect(v1).toMatchObject({
      ok: true,
      envelope: { ...base, v: 3, data: { amountMinor: 1250, currency: 'EUR' } },
    });
    const v2 = pipeline.accept({ ...base, v: 2, data: { amountMinor: 7 } }, where);
    expect(v2).toMatchObject({ ok: true, envelope: { v: 3, data: { amountMinor: 7, currency: 'EUR' } } });
    const v3 = pipeline.accept({ ...base, v: 3, data: { amountMinor: 7, currency: 'USD' } }, where);
    expect(v3).toMatchObject({ ok: true, envelope: { v: 3, data: { amountMinor: 7, currency: 'USD' } } });
    // An older version's own schema still applies first: a v1 event must be a valid v1.
    expect(pipeline.accept({ ...base, v: 1, data: { amountMinor: 1 } }, where)).toMatchObject({
      ok: false,
      error: { reason: 'schema_violation' },
    });
    // A newer version than any declared is not guessed at.
    expect(pipeline.accept({ ...base, v: 4, data: {} }, where)).toMatchObject({
      ok: false,
      error: { reason: 'unsupported_version' },
    });
  });

  it('dead-letter as schema_violation an upcaster that throws or returns what the next schema refuses', () => {
    const registry = createEventRegistry([
      { type: 't', v: 1, schema: V1 },
      { type: 't', v: 2, schema: V2 },
    ]);
    const throwing = createUpcaster(
      [
        {
          type: 't',
          v: 1,
          upcast: () => {
            throw new Error('boom');
          },
        },
      ],
      registry,
    );
    const r1 = throwing({ ...base, type: 't', v: 1, data: { amount: 1 } });
    expect(r1).toMatchObject({ ok: false, error: { reason: 'schema_violation' } });
    expect(r1.ok ? '' : r1.error.message).toContain('upcasting t v1 to v2 threw: boom');
    const wrong = createUpcaster([{ type: 't', v: 1, upcast: () => ({ amountMinor: 1.5 }) }], registry);
    const r2 = wrong({ ...base, type: 't', v: 1, data: { amount: 1 } });
    expect(r2.ok ? '' : r2.error.message).toMatch(
      /upcasting t v1 to v2 gave data its schema refuses: data.amountMinor/,
    );
  });

  it('a hand-written chain is checked at definePipeline: no gaps, every older version upcast, none past the newest', () => {
    const up = (d: unknown) => d;
    const cases: Array<
      [Array<{ type: string; v: number; schema: z.ZodType; upcast?: (d: never) => unknown }>, RegExp]
    > = [
      [
        [
          { type: 't', v: 1, schema: V1, upcast: up },
          { type: 't', v: 3, schema: V3 },
        ],
        /events\.0\.upcast: t v1 upcasts to v2, which is not declared/,
      ],
      [
        [
          { type: 't', v: 1, schema: V1 },
          { type: 't', v: 2, schema: V2, upcast: up },
          { type: 't', v: 3, schema: V3 },
        ],
        /events\.0\.upcast: t v1 needs an upcaster/,
      ],
      [
        [
          { type: 't', v: 1, schema: V1, upcast: up },
          { type: 't', v: 2, schema: V2, upcast: up },
        ],
        /events\.1\.upcast: t v2 is the newest version declared/,
      ],
      [[{ type: 't', v: 1, schema: V1, upcast: 'no' as never }], /events\.0\.upcast/],
    ];
    for (const [events, message] of cases) {
      const attempt = () => definePipeline({ name: 'p', events, async apply() {} });
      expect(attempt).toThrow(ValidationError);
      expect(attempt).toThrow(message);
    }
    // Types without upcasters keep declaring several versions side by side, as before.
    expect(() =>
      definePipeline({
        name: 'p',
        events: [{ type: 'a', v: 1, schema: V1 }, { type: 'a', v: 3, schema: V3 }, ...chain.specs],
        async apply() {},
      }),
    ).not.toThrow();
  });
});
