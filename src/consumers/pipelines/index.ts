import type { PipelineName } from '../../lib/config.ts';
import type { Pipeline } from '../types.ts';
import { createEventLogPipeline } from './event-log.ts';
import { createPaymentsPipeline } from './payments.ts';

export interface PipelineOptions {
  /** Allowed currencies of the payments pipeline (config.payments.currencies). */
  currencies: readonly string[];
}

/** The pipeline named by `--pipeline` / STREAMSINK_PIPELINE. */
export function createPipeline(name: PipelineName, options: PipelineOptions): Pipeline {
  switch (name) {
    case 'event-log':
      return createEventLogPipeline();
    case 'payments':
      return createPaymentsPipeline({ currencies: options.currencies });
    default: {
      const unknown: never = name;
      throw new RangeError(`unknown pipeline ${String(unknown)}`);
    }
  }
}
