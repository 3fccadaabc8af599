import type { z } from 'zod';
import type { EventSpec } from './define-pipeline.ts';

/** An older version in a chain: its `upcast` is required, so {@link EventOf} leaves it out. */
export type UpcastingSpec<T extends string, S extends z.ZodType> = EventSpec<T, S> & {
  upcast(data: z.output<S>): unknown;
};

/** A chain of versions of one event type, built by {@link eventVersions}. */
export interface EventVersions<T extends string, S extends z.ZodType, Older extends readonly EventSpec[]> {
  /**
   * Declare the next version (v + 1) with its schema, and the pure function that raises the current newest
   * version's data (as its schema parsed it) to the new version's schema input.
   */
  upcast<N extends z.ZodType>(
    schema: N,
    upcast: (data: z.output<S>) => z.input<N>,
  ): EventVersions<T, N, readonly [...Older, UpcastingSpec<T, S>]>;
  /** The specs, oldest first, to spread into `definePipeline({ events })`. */
  readonly specs: readonly [...Older, EventSpec<T, S>];
}

/**
 * A typed chain of versions of one event type: each upcaster's input is the previous version's parsed data
 * and its output the next version's schema input, and versions follow one another with no gap. The result
 * is plain specs (`{ type, v, schema, upcast }`), the same as writing them by hand; definePipeline checks a
 * hand-written chain at run time.
 *
 * @example
 * events: [
 *   ...eventVersions('payment.captured', 1, z.object({ amount: z.number() }))
 *     .upcast(z.object({ amountMinor: z.number().int() }), (d) => ({ amountMinor: Math.round(d.amount * 100) }))
 *     .upcast(z.object({ amountMinor: z.number().int(), currency: z.string() }), (d) => ({ ...d, currency: 'EUR' }))
 *     .specs,
 * ]
 */
export function eventVersions<const T extends string, S extends z.ZodType>(
  type: T,
  v: number,
  schema: S,
): EventVersions<T, S, readonly []> {
  return chain<T, S, readonly []>(type, v, schema, []);
}

function chain<T extends string, S extends z.ZodType, Older extends readonly EventSpec[]>(
  type: T,
  v: number,
  schema: S,
  older: Older,
): EventVersions<T, S, Older> {
  return {
    upcast<N extends z.ZodType>(next: N, upcast: (data: z.output<S>) => z.input<N>) {
      const spec: UpcastingSpec<T, S> = { type, v, schema, upcast };
      return chain<T, N, readonly [...Older, UpcastingSpec<T, S>]>(type, v + 1, next, [
        ...older,
        spec,
      ] as const);
    },
    specs: [...older, { type, v, schema }] as const,
  };
}
