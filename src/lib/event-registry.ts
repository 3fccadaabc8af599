import { z } from 'zod';
import type { Envelope } from './envelope.ts';
import type { FieldIssue, ReasonCode } from './errors.ts';

/**
 * Event types are declared as (type, version) -> zod schema of `data`. The producer validates against the
 * registry before anything reaches Redis; pipelines validate again on the consumer side (a producer may be
 * older, newer, or not ours).
 *
 * Object schemas are strict by default: a key the schema does not name is refused (`schema_violation`), at
 * publish and on the consumer side. zod's own default strips unknown keys, which let a producer push
 * megabytes of undeclared fields through a valid-looking event. A schema that wants extra keys says so with
 * `.loose()`, `.passthrough()` or `.catchall(...)`, and is left as it is.
 */
export interface EventDefinition<S extends z.ZodType = z.ZodType> {
  type: string;
  v: number;
  schema: S;
}

export type RegistryCheck =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; reason: ReasonCode; issues: FieldIssue[] };

export interface EventRegistry {
  readonly definitions: readonly EventDefinition[];
  has(type: string, v?: number): boolean;
  /** Validate `data` for (type, v): unknown type, unsupported version, or schema issues with field paths. */
  check(envelope: Pick<Envelope<unknown>, 'type' | 'v' | 'data'>): RegistryCheck;
}

export function createEventRegistry(definitions: readonly EventDefinition[]): EventRegistry {
  const byType = new Map<string, Map<number, z.ZodType>>();
  for (const d of definitions) {
    const versions = byType.get(d.type) ?? new Map<number, z.ZodType>();
    if (versions.has(d.v)) throw new RangeError(`event ${d.type} v${d.v} is declared twice`);
    versions.set(d.v, strictByDefault(d.schema));
    byType.set(d.type, versions);
  }
  return {
    definitions,
    has: (type, v) => (v === undefined ? byType.has(type) : (byType.get(type)?.has(v) ?? false)),
    check(envelope) {
      const versions = byType.get(envelope.type);
      if (!versions)
        return {
          ok: false,
          reason: 'unknown_type',
          issues: [{ path: 'type', message: `unknown type ${envelope.type}` }],
        };
      const schema = versions.get(envelope.v);
      if (!schema) {
        const known = [...versions.keys()].join(', ');
        return {
          ok: false,
          reason: 'unsupported_version',
          issues: [
            {
              path: 'v',
              message: `version ${envelope.v} of ${envelope.type} is not supported (known: ${known})`,
            },
          ],
        };
      }
      const parsed = schema.safeParse(envelope.data);
      if (!parsed.success) {
        return {
          ok: false,
          reason: 'schema_violation',
          issues: parsed.error.issues.map((i) => ({
            path: ['data', ...i.path.map(String)].join('.'),
            message: i.message,
          })),
        };
      }
      return { ok: true, data: parsed.data as Record<string, unknown> };
    },
  };
}

/**
 * `schema.strict()` when it is a z.object with no catchall of its own (zod's default, or `.strip()`, which
 * cannot be told apart from it); any other schema as it is. Top level only: nested objects keep their mode.
 */
export function strictByDefault(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodObject && schema._zod.def.catchall === undefined) return schema.strict();
  return schema;
}
