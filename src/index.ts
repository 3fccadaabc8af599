/**
 * streamsink's public API: the producer SDK, the event envelope and registry, and the typed errors.
 */
export type { Envelope } from './lib/envelope.ts';
export { decodeEntry, encodeEnvelope } from './lib/envelope.ts';
export type { ReasonCode } from './lib/errors.ts';
export {
  ConfigError,
  PayloadTooLargeError,
  PoisonMessageError,
  REASON_CODES,
  StreamsinkError,
  TransientError,
  ValidationError,
} from './lib/errors.ts';
export type { EventDefinition, EventRegistry } from './lib/event-registry.ts';
export { createEventRegistry } from './lib/event-registry.ts';
export { streamKeys } from './lib/keys.ts';
export { createProducerMetrics } from './lib/metrics.ts';
