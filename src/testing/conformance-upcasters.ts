import { isDeepStrictEqual } from 'node:util';
import type { Pipeline } from '../consumers/types.ts';
import { decodeEntry } from '../lib/envelope.ts';
import type { PropertyResult } from './conformance-verdicts.ts';

/**
 * The `upcasters` property of the conformance check: every given event that the pipeline raises to a newer
 * version (docs/pipelines.md#versions-and-upcasters) is raised the same way twice, from two fresh decodes of
 * its entry. An upcaster that reads the clock, randomness or outside state fails it: a redelivery or a redrive
 * would apply other data than the first delivery. Undefined when no given event is raised (nothing to check).
 */
export function judgeUpcasters(
  pipeline: Pipeline,
  events: ReadonlyArray<{ id: string; fields: string[] }>,
): PropertyResult | undefined {
  const property = 'upcasters';
  let raised = 0;
  for (const event of events) {
    const accept = () => {
      const decoded = decodeEntry(event.fields);
      if (!decoded.ok) return undefined;
      const result = pipeline.accept(decoded.envelope, { entryId: '0-1', stream: 'conformance' });
      return result.ok ? { from: decoded.envelope.v, envelope: result.envelope } : undefined;
    };
    const first = accept();
    if (!first || first.envelope.v === first.from) continue;
    raised += 1;
    const second = accept();
    if (!isDeepStrictEqual(second?.envelope, first.envelope))
      return {
        property,
        passed: false,
        detail: `event ${event.id} (v${first.from}) was upcast to different data twice: upcasters must be pure`,
        actual: second?.envelope.data,
        expected: first.envelope.data,
      };
  }
  if (raised === 0) return undefined;
  return {
    property,
    passed: true,
    detail: `${raised} events upcast to their newest version, the same way twice`,
  };
}
