import type { Envelope } from '../lib/envelope.ts';
import { type FieldIssue, PoisonMessageError } from '../lib/errors.ts';
import type { EventRegistry } from '../lib/event-registry.ts';

/**
 * Schema evolution (docs/pipelines.md#versions-and-upcasters): an event spec may declare `upcast`, a pure
 * function from its `data` (as its schema parsed it) to the `data` of the next version. An event published at
 * an older version is validated by its own schema, then raised one version at a time, each result validated
 * by the next version's schema, so the pipeline sees only the newest version. The content hash stays over the
 * event as published (inbox.ts), so an upcaster added later never makes a redelivery look like a conflict.
 */

/** What this module needs of an event spec. */
export interface UpcastSpec {
  type: string;
  v: number;
  upcast?: ((data: never) => unknown) | undefined;
}

/**
 * The chain rules, checked by definePipeline: an upcaster of vN needs vN+1 declared (no gaps); a type with
 * any upcaster reaches its newest version from every older one (each older version has one), and its newest
 * version has none. Returns the issues with paths into `events`, empty when the chains are sound. Pure.
 */
export function checkUpcasters(specs: readonly UpcastSpec[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const byType = new Map<string, Map<number, { index: number; upcast: boolean }>>();
  for (const [index, s] of specs.entries()) {
    const versions = byType.get(s.type) ?? new Map<number, { index: number; upcast: boolean }>();
    versions.set(s.v, { index, upcast: s.upcast !== undefined });
    byType.set(s.type, versions);
  }
  for (const [type, versions] of byType) {
    if (![...versions.values()].some((x) => x.upcast)) continue;
    const newest = Math.max(...versions.keys());
    for (const [v, { index, upcast }] of [...versions].sort((a, b) => a[0] - b[0])) {
      const path = `events.${index}.upcast`;
      if (v === newest && upcast)
        issues.push({
          path,
          message: `${type} v${v} is the newest version declared: it has nothing to upcast to`,
        });
      else if (v !== newest && !upcast)
        issues.push({
          path,
          message: `${type} v${v} needs an upcaster: ${type} declares upcasters, so every older version must reach v${newest}`,
        });
      else if (upcast && !versions.has(v + 1))
        issues.push({ path, message: `${type} v${v} upcasts to v${v + 1}, which is not declared (no gaps)` });
    }
  }
  return issues;
}

export type UpcastResult = { ok: true; envelope: Envelope } | { ok: false; error: PoisonMessageError };

/**
 * Raise an envelope whose `data` its own version's schema has already parsed to the newest version of its
 * type, validating each step with `registry`. An upcaster that throws, or returns data the next schema
 * refuses, dead-letters the event as `schema_violation` (a pure function fails the same way every time; fix
 * it, deploy, redrive). Returns the envelope unchanged when its version has no upcaster.
 */
export function createUpcaster(
  specs: readonly UpcastSpec[],
  registry: EventRegistry,
): (envelope: Envelope) => UpcastResult {
  const steps = new Map<string, (data: unknown) => unknown>();
  for (const s of specs) if (s.upcast) steps.set(`${s.v} ${s.type}`, s.upcast as (data: unknown) => unknown);
  return (envelope) => {
    if (steps.size === 0) return { ok: true, envelope };
    let { v, data } = envelope;
    for (let step = steps.get(`${v} ${envelope.type}`); step; step = steps.get(`${v} ${envelope.type}`)) {
      const from = `${envelope.type} v${v} to v${v + 1}`;
      let raised: unknown;
      try {
        raised = step(data);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return refuse(`upcasting ${from} threw: ${message}`);
      }
      v += 1;
      const checked = registry.check({ type: envelope.type, v, data: raised });
      if (!checked.ok) {
        const detail = checked.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
        return refuse(`upcasting ${from} gave data its schema refuses: ${detail}`);
      }
      data = checked.data;
    }
    return { ok: true, envelope: v === envelope.v ? envelope : { ...envelope, v, data } };
  };
}

function refuse(message: string): UpcastResult {
  return { ok: false, error: new PoisonMessageError('schema_violation', `schema_violation: ${message}`) };
}
