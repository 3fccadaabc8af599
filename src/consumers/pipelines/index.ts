import type { AnyPipeline } from '../define-pipeline.ts';
import { toRuntimePipeline } from '../pipeline-adapter.ts';
import type { Pipeline } from '../types.ts';
import { createEventLogPipeline } from './event-log/index.ts';
import { createPaymentsPipeline } from './payments/index.ts';

/** What the built-in pipelines may be configured with (parsed from the environment by the CLI). */
export interface BuiltInOptions {
  /** Allowed currencies of the payments pipeline (config.payments.currencies). */
  currencies: readonly string[];
}

/** The pipelines that ship with streamsink, by the name `--pipeline` takes. */
export const BUILT_IN_PIPELINES: Readonly<Record<string, (options: BuiltInOptions) => AnyPipeline>> = {
  'event-log': () => createEventLogPipeline(),
  payments: (options) => createPaymentsPipeline({ currencies: options.currencies }),
};

export function isBuiltInPipeline(name: string): boolean {
  return Object.hasOwn(BUILT_IN_PIPELINES, name);
}

/** A built-in pipeline as the runtime drives it (tests and benches use this directly). */
export function createPipeline(name: 'event-log' | 'payments', options: BuiltInOptions): Pipeline {
  const make = BUILT_IN_PIPELINES[name];
  if (!make) throw new RangeError(`unknown built-in pipeline ${name}`);
  return toRuntimePipeline(make(options));
}
