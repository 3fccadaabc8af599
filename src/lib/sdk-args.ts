import { z } from 'zod';
import { type FieldIssue, InvalidArgumentError } from './errors.ts';

/**
 * Run-time checks of the SDK's arguments. TypeScript catches a misplaced option at compile time, but not for
 * JavaScript callers, `any`-typed objects or spread configs: `dlqPurge(target, { all: true, dryRun: true })`
 * once purged for real, because `dryRun` sat in the selector, where nothing read it. So every option object
 * is a strict schema: an unknown key is refused before any I/O, and a key that belongs to another argument
 * of the same function says where it should go. Pure, no I/O.
 */

/** One argument of a public SDK function: its name, its schema, and where keys of the other arguments go. */
export interface ArgumentSpec {
  /** Name used in messages: `selector`, `options`, `target`. */
  name: string;
  schema: z.ZodType;
  /** Keys that belong to a sibling argument, with the hint to print (`options, the third argument`). */
  misplaced?: Readonly<Record<string, string>>;
  /** `undefined` is accepted (the parameter has a default). */
  optional?: boolean;
}

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', 'expected a function');
const positiveInt = z.number().int().min(1);
/** A duck-typed client: the SDK uses only these commands, and a wrong object is usually a mixed-up argument. */
const redisClient = (methods: readonly string[]) =>
  z.custom<object>(
    (v) =>
      typeof v === 'object' &&
      v !== null &&
      methods.every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
    `expected an ioredis client (with ${methods.join(', ')})`,
  );

const SELECTOR_KEYS = ['all', 'ids', 'reason', 'type'] as const;
const REDRIVE_OPTION_KEYS = ['dryRun', 'limit', 'onProgress', 'signal'] as const;
const IN_OPTIONS = 'options, the third argument';
const IN_SELECTOR = 'the selector, the second argument';
const IN_TARGET = 'the target, the first argument';
const hints = (keys: readonly string[], where: string) => Object.fromEntries(keys.map((k) => [k, where]));

const target = z.strictObject({
  redis: redisClient(['exists', 'xrange']),
  stream: z.string().min(1),
  keyPrefix: z.string().min(1).optional(),
});

const selector = z
  .strictObject({
    all: z.literal(true, 'expected true (omit it to select by ids, reason or type)').optional(),
    ids: z.array(z.string()).min(1).optional(),
    reason: z.string().optional(),
    type: z.string().optional(),
  })
  .refine(
    (s) =>
      [s.all !== undefined, s.ids !== undefined, s.reason !== undefined || s.type !== undefined].filter(
        Boolean,
      ).length === 1,
    'choose exactly one of { all: true }, { ids }, or { reason and/or type }',
  );

export const TARGET: ArgumentSpec = { name: 'target', schema: target };

export const DLQ_LIST_OPTIONS: ArgumentSpec = {
  name: 'options',
  optional: true,
  schema: z.strictObject({
    reason: z.string().optional(),
    type: z.string().optional(),
    since: z
      .date()
      .refine((d) => !Number.isNaN(d.getTime()), 'expected a valid Date')
      .optional(),
    limit: z.number().int().min(0).optional(),
  }),
  misplaced: hints(['redis', 'stream', 'keyPrefix'], IN_TARGET),
};

export const SHOW_ID: ArgumentSpec = { name: 'id', schema: z.string() };

export const REDRIVE_SELECTOR: ArgumentSpec = {
  name: 'selector',
  schema: selector,
  misplaced: hints(REDRIVE_OPTION_KEYS, IN_OPTIONS),
};

export const REDRIVE_OPTIONS: ArgumentSpec = {
  name: 'options',
  optional: true,
  schema: z.strictObject({
    dryRun: z.boolean().optional(),
    limit: positiveInt.optional(),
    onProgress: fn.optional(),
    signal: z.instanceof(AbortSignal, { error: 'expected an AbortSignal' }).optional(),
  }),
  misplaced: hints(SELECTOR_KEYS, IN_SELECTOR),
};

export const PURGE_SELECTOR: ArgumentSpec = {
  name: 'selector',
  schema: selector,
  misplaced: hints(['dryRun'], IN_OPTIONS),
};

export const PURGE_OPTIONS: ArgumentSpec = {
  name: 'options',
  optional: true,
  schema: z.strictObject({ dryRun: z.boolean().optional() }),
  misplaced: hints(SELECTOR_KEYS, IN_SELECTOR),
};

export const PRODUCER_OPTIONS: ArgumentSpec = {
  name: 'options',
  schema: z.strictObject({
    redis: redisClient(['defineCommand', 'pipeline']),
    keyPrefix: z.string().min(1).optional(),
    registry: z
      .custom<object>((v) => typeof v === 'object' && v !== null, 'expected an event registry')
      .optional(),
    dedupeWindowMs: positiveInt.optional(),
    maxPayloadBytes: positiveInt.optional(),
    maxLen: positiveInt.optional(),
    idempotent: z.boolean().optional(),
    metrics: z
      .custom<object>((v) => typeof v === 'object' && v !== null, 'expected producer metrics')
      .optional(),
    // A Lua call blocks Redis for its whole run: a few hundred events keep it to a few milliseconds.
    chunkSize: z.number().int().min(1).max(1000).optional(),
    now: fn.optional(),
    newId: fn.optional(),
  }),
};

export const STREAM_ARG: ArgumentSpec = { name: 'stream', schema: z.string() };
/** Any value: prepareEvent checks the event itself and answers with a ValidationError (nothing written). */
export const EVENT_ARG: ArgumentSpec = { name: 'event', schema: z.unknown() };
export const EVENTS_ARG: ArgumentSpec = { name: 'events', schema: z.array(z.unknown()) };

/**
 * Check every argument of a call to `fn`, in order, and throw one InvalidArgumentError listing every issue.
 * Arguments beyond `specs` are refused too: a third argument to a two-argument function is a mistake that
 * would otherwise be silently ignored.
 */
export function checkArguments(
  fnName: string,
  specs: readonly ArgumentSpec[],
  args: ArrayLike<unknown>,
): void {
  const issues: FieldIssue[] = [];
  for (let i = 0; i < specs.length; i++) {
    issues.push(...argumentIssues(specs[i] as ArgumentSpec, args[i]));
  }
  if (args.length > specs.length) {
    const names = specs.map((s) => s.name).join(', ');
    issues.push({
      path: `argument ${specs.length + 1}`,
      message: `unexpected: ${fnName} takes ${specs.length} argument${specs.length === 1 ? '' : 's'} (${names})`,
    });
  }
  if (issues.length > 0) throw new InvalidArgumentError(fnName, issues);
}

/** The issues of one argument, each with a path starting at the argument's name (`options.limit`). */
export function argumentIssues(spec: ArgumentSpec, value: unknown): FieldIssue[] {
  if (value === undefined && spec.optional) return [];
  const result = spec.schema.safeParse(value);
  if (result.success) return [];
  const issues: FieldIssue[] = [];
  for (const issue of result.error.issues) {
    const path = [spec.name, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const where = spec.misplaced?.[key];
        issues.push({
          path,
          message: `unknown key ${JSON.stringify(key)}${where ? ` (it belongs in ${where})` : ''}`,
        });
      }
    } else if (issue.code === 'invalid_type' && issue.path.length === 0) {
      issues.push({ path, message: `expected ${issue.expected}, got ${describe(value)}` });
    } else {
      issues.push({ path, message: issue.message.replace(/^Invalid input: /, '') });
    }
  }
  return issues;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
