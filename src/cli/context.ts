import type { Readable, Writable } from 'node:stream';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import type { Env } from '../lib/config.ts';
import { ConfigError, UsageError } from '../lib/errors.ts';

/**
 * What a command may touch of the outside world, handed in by src/cli/main.ts (the composition root).
 * Commands never read `process.*` themselves, so tests run them in-process with captured streams.
 */
export interface CliContext {
  env: Env;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** stderr is a terminal: progress bars and pretty logs are welcome. */
  interactive: boolean;
  hostname: string;
  /** Where relative paths (`--pipeline ./orders.mjs`) are resolved; default: the process's working directory. */
  cwd?: string;
  readFile: (path: string) => string;
  /** Aborted on SIGTERM / SIGINT. */
  signal: AbortSignal;
}

export type Command = (args: string[], ctx: CliContext) => Promise<number>;

/**
 * Overlay command-line flags onto the environment under their variable names, so config parsing sees one
 * source and its error messages name the variable (`--stream` is STREAMSINK_STREAM).
 */
export function flagsToEnv(
  env: Env,
  flags: Record<string, string | boolean | undefined>,
  mapping: Record<string, string>,
): Env {
  const out: Record<string, string | undefined> = { ...env };
  for (const [flag, variable] of Object.entries(mapping)) {
    const value = flags[flag];
    if (value !== undefined) out[variable] = String(value);
  }
  return out;
}

export type Flags = Record<string, string | boolean | undefined>;

/**
 * Parse a command's configuration from the environment with its flags overlaid ({@link flagsToEnv}), and
 * name a bad value after where it came from: `--stream: expected ...` when the flag gave it, the variable
 * when the environment did.
 */
export function parseWithFlags<T>(
  parse: (env: Env) => T,
  env: Env,
  flags: Flags,
  mapping: Record<string, string>,
): T {
  try {
    return parse(flagsToEnv(env, flags, mapping));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const given = new Map(
      Object.entries(mapping)
        .filter(([flag]) => flags[flag] !== undefined)
        .map(([flag, variable]) => [variable, `--${flag}`]),
    );
    if (!error.issues.some((i) => given.has(i.variable))) throw error;
    throw new ConfigError(error.issues.map((i) => ({ ...i, variable: given.get(i.variable) ?? i.variable })));
  }
}

/** Strict flag parsing for a command: an unknown or malformed flag is a UsageError carrying the command's help. */
export function parseFlags(args: string[], options: ParseArgsOptionsConfig, help: string): Flags {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Flags;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${help}`);
  }
}
