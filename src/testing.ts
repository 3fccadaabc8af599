/**
 * `streamsink/testing`: what you use in your own test suite to check your pipeline against a real Postgres,
 * without a test framework dependency (failures are `AssertionError`s). See docs/pipelines.md.
 */

export type { ConformanceEvent, ConformanceOptions, ConformanceReport } from './testing/conformance.ts';
export { checkPipelineConformance, PipelineConformanceError } from './testing/conformance.ts';
export type { ConformanceProperty, PropertyResult } from './testing/conformance-verdicts.ts';
