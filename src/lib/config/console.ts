import { z } from 'zod';

/**
 * The operator console's variables (docs/console.md): a piece like those in pieces.ts, kept in its own file
 * because its parsing (token and role lists) is more than a line each. Tokens are secrets: their values never
 * appear in an error message (parse-env.ts shows them as `(secret, not shown)`).
 */

export const CONSOLE_ROLES = ['viewer', 'operator'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

export interface ConsoleToken {
  /** Who this token is: written to the audit table and shown in the page header. */
  name: string;
  role: ConsoleRole;
  token: string;
}

export interface ConsoleConfig {
  /** Port of the console; 0 picks a free one (tests). */
  port: number;
  /** Interface bound: 127.0.0.1 unless told otherwise. */
  host: string;
  /** Logical stream names shown. */
  streams: readonly string[];
  tokens: readonly ConsoleToken[];
  /** Header an authenticating reverse proxy sets to the user name; unset (the default) trusts no header. */
  trustProxyHeader: string | undefined;
  /** Role of each proxy user; `*` for everyone else. A user with no role is refused. */
  proxyRoles: ReadonlyMap<string, ConsoleRole>;
  /** `auto`: Secure when the request came over https. */
  secureCookie: 'auto' | 'always' | 'never';
  sessionTtlMs: number;
  /** Most entries one redrive moves (the oldest first). */
  maxRedrive: number;
  /** How often stream throughput is sampled for the sparklines. */
  sampleIntervalMs: number;
}

const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const MIN_TOKEN = 16;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);

/** `name:role:token`, comma- or newline-separated (a token file has one per line; `#` starts a comment). */
export function parseTokenList(text: string): { tokens: ConsoleToken[]; problems: string[] } {
  const tokens: ConsoleToken[] = [];
  const problems: string[] = [];
  const items = text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .flatMap((line) => line.split(','))
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const [i, item] of items.entries()) {
    const first = item.indexOf(':');
    const second = item.indexOf(':', first + 1);
    const name = first < 0 ? '' : item.slice(0, first);
    const role = second < 0 ? '' : item.slice(first + 1, second);
    const token = second < 0 ? '' : item.slice(second + 1);
    // Name the position, never the token: the message is printed.
    if (!NAME.test(name)) problems.push(`item ${i + 1}: a name of 1-64 characters from A-Z a-z 0-9 . _ @ -`);
    else if (!(CONSOLE_ROLES as readonly string[]).includes(role))
      problems.push(`item ${i + 1} (${name}): role viewer or operator`);
    else if (token.length < MIN_TOKEN || /\s/.test(token))
      problems.push(`item ${i + 1} (${name}): a token of at least ${MIN_TOKEN} characters, no spaces`);
    else if (tokens.some((t) => t.name === name)) problems.push(`item ${i + 1}: name ${name} given twice`);
    else if (tokens.some((t) => t.token === token)) problems.push(`item ${i + 1} (${name}): token reused`);
    else tokens.push({ name, role: role as ConsoleRole, token });
  }
  return { tokens, problems };
}

/** `alice:operator,bob:viewer,*:viewer`. */
export function parseProxyRoles(text: string): { roles: Map<string, ConsoleRole>; problems: string[] } {
  const roles = new Map<string, ConsoleRole>();
  const problems: string[] = [];
  for (const item of list(text)) {
    const at = item.lastIndexOf(':');
    const user = item.slice(0, at);
    const role = item.slice(at + 1);
    if (at <= 0 || !(CONSOLE_ROLES as readonly string[]).includes(role))
      problems.push(`${JSON.stringify(item)}: user:viewer or user:operator`);
    else roles.set(user, role as ConsoleRole);
  }
  return { roles, problems };
}

const tokens = z.string().transform((s, ctx) => {
  const { tokens: parsed, problems } = parseTokenList(s);
  for (const p of problems) ctx.addIssue({ code: 'custom', message: p });
  return parsed;
});

export const CONSOLE = {
  STREAMSINK_CONSOLE_PORT: int(0, 65535).optional(),
  STREAMSINK_CONSOLE_HOST: z.string().min(1).default('127.0.0.1'),
  STREAMSINK_CONSOLE_STREAMS: z
    .string()
    .transform(list)
    .pipe(
      z.array(z.string().regex(/^[A-Za-z0-9._:-]{1,200}$/, 'stream names from A-Z a-z 0-9 . _ : -')).max(100),
    )
    .optional(),
  STREAMSINK_CONSOLE_TOKENS: tokens.optional(),
  STREAMSINK_CONSOLE_TRUST_PROXY_HEADER: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'an HTTP header name such as X-Forwarded-User')
    .optional(),
  STREAMSINK_CONSOLE_PROXY_ROLES: z
    .string()
    .transform((s, ctx) => {
      const { roles, problems } = parseProxyRoles(s);
      for (const p of problems) ctx.addIssue({ code: 'custom', message: p });
      return roles;
    })
    .optional(),
  STREAMSINK_CONSOLE_SECURE_COOKIE: z.enum(['auto', 'always', 'never']).default('auto'),
  STREAMSINK_CONSOLE_SESSION_TTL_MS: int(60_000, 7 * 86_400_000).default(8 * 3_600_000),
  STREAMSINK_CONSOLE_MAX_REDRIVE: int(1, 1_000_000).default(10_000),
  STREAMSINK_CONSOLE_SAMPLE_INTERVAL_MS: int(500, 600_000).default(5000),
};

type Values = z.infer<z.ZodObject<typeof CONSOLE>>;

/**
 * Without a way in, the console would refuse everyone: say so at start rather than at the first page. In the
 * worker the console is off unless STREAMSINK_CONSOLE_PORT is set, and only then checked.
 */
export function refineConsole(
  v: Values,
  ctx: z.RefinementCtx,
  options: { whenPortSet?: boolean } = {},
): void {
  if (options.whenPortSet && v.STREAMSINK_CONSOLE_PORT === undefined) return;
  const hasTokens = (v.STREAMSINK_CONSOLE_TOKENS?.length ?? 0) > 0;
  if (!hasTokens && v.STREAMSINK_CONSOLE_TRUST_PROXY_HEADER === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['STREAMSINK_CONSOLE_TOKENS'],
      message: 'at least one name:role:token (or STREAMSINK_CONSOLE_TRUST_PROXY_HEADER)',
      input: undefined,
    });
  if (v.STREAMSINK_CONSOLE_TRUST_PROXY_HEADER !== undefined && !v.STREAMSINK_CONSOLE_PROXY_ROLES?.size)
    ctx.addIssue({
      code: 'custom',
      path: ['STREAMSINK_CONSOLE_PROXY_ROLES'],
      message:
        'user:role pairs (e.g. alice:operator,*:viewer) when STREAMSINK_CONSOLE_TRUST_PROXY_HEADER is set',
      input: undefined,
    });
}

export function toConsole(v: Values, defaults: { port: number; stream: string }): ConsoleConfig {
  return {
    port: v.STREAMSINK_CONSOLE_PORT ?? defaults.port,
    host: v.STREAMSINK_CONSOLE_HOST,
    streams: v.STREAMSINK_CONSOLE_STREAMS?.length ? v.STREAMSINK_CONSOLE_STREAMS : [defaults.stream],
    tokens: v.STREAMSINK_CONSOLE_TOKENS ?? [],
    trustProxyHeader: v.STREAMSINK_CONSOLE_TRUST_PROXY_HEADER?.toLowerCase(),
    proxyRoles: v.STREAMSINK_CONSOLE_PROXY_ROLES ?? new Map(),
    secureCookie: v.STREAMSINK_CONSOLE_SECURE_COOKIE,
    sessionTtlMs: v.STREAMSINK_CONSOLE_SESSION_TTL_MS,
    maxRedrive: v.STREAMSINK_CONSOLE_MAX_REDRIVE,
    sampleIntervalMs: v.STREAMSINK_CONSOLE_SAMPLE_INTERVAL_MS,
  };
}
