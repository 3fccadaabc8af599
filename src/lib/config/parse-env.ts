import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { redactUrl } from '../redact.ts';

/**
 * The part of parsing every command shares: secrets read from `*_FILE` variables, empty strings taken as unset,
 * and every failure (of the file reads and of the schema) collected into one {@link ConfigError}.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface ParseConfigOptions {
  /** Reads a secret file named by a `*_FILE` variable. Injected so parsing stays testable. */
  readFile?: (path: string) => string;
  /** Default consumer name (the hostname, or the pod name in Kubernetes). */
  hostname?: string;
}

const SECRET_VARIABLES = ['REDIS_URL', 'DATABASE_URL', 'STREAMSINK_CONSOLE_TOKENS'] as const;
/** Secrets that are not URLs: nothing of them is shown, not even redacted. */
const OPAQUE_SECRETS: readonly string[] = ['STREAMSINK_CONSOLE_TOKENS'];

/**
 * Validate `env` against `schema`, an object of variables. Only the variables the schema names are looked at:
 * a `*_FILE` secret is read only when its variable is part of it.
 */
export function parseEnv<S extends z.ZodType<object>>(
  schema: S,
  variables: readonly string[],
  env: Env,
  options: ParseConfigOptions,
): { data: z.infer<S>; resolved: Record<string, string | undefined> } {
  const issues: ConfigIssue[] = [];
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_VARIABLES) {
    if (!variables.includes(name)) continue;
    const fileVar = `${name}_FILE`;
    const path = env[fileVar];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      issues.push({
        variable: fileVar,
        expected: `only one of ${name} and ${fileVar}`,
        received: 'both set',
      });
      continue;
    }
    try {
      if (!options.readFile) throw new Error('no file reader');
      resolved[name] = options.readFile(path).trim();
    } catch (error) {
      const why = error instanceof Error && 'code' in error ? String(error.code) : 'unreadable';
      issues.push({ variable: fileVar, expected: 'a readable file', received: `${path} (${why})` });
    }
  }
  // Empty strings mean "unset", as in most twelve-factor tools; it keeps `FOO= cmd` from failing oddly.
  for (const [k, v] of Object.entries(resolved)) if (v === '') resolved[k] = undefined;

  const result = schema.safeParse(resolved);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const variable = String(issue.path[0] ?? '(config)');
      issues.push({
        variable,
        expected: issue.message.replace(/^Invalid (input|option): (expected )?/, ''),
        received: describeReceived(variable, resolved[variable]),
      });
    }
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return { data: result.data, resolved };
}

function describeReceived(variable: string, value: string | undefined): string {
  if (value === undefined) return 'nothing';
  if (OPAQUE_SECRETS.includes(variable)) return '(secret, not shown)';
  if ((SECRET_VARIABLES as readonly string[]).includes(variable)) return JSON.stringify(redactUrl(value));
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}
