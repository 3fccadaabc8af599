import type { Finding } from './types.ts';

/**
 * k8s/redis-acl.conf: `ACL SETUSER` lines for redis-cli, with `${VAR}` password placeholders (envsubst). Parsed
 * here for the ACL integration test (which applies exactly these lines) and linted by validate:deploy.
 */

export interface AclUser {
  line: number;
  name: string;
  /** The full command, split as redis-cli splits it (double quotes group words). */
  argv: string[];
}

export function parseAclFile(text: string): AclUser[] {
  const users: AclUser[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const argv = splitArgs(line);
    if (argv[0]?.toUpperCase() !== 'ACL' || argv[1]?.toUpperCase() !== 'SETUSER' || !argv[2]) {
      throw new Error(`line ${i + 1}: expected ACL SETUSER <user> ...`);
    }
    users.push({ line: i + 1, name: argv[2], argv });
  });
  return users;
}

/** Replaces `${NAME}` placeholders; throws on one without a value, so a user never gets a literal password. */
export function substitute(
  argv: readonly string[],
  values: Readonly<Record<string, string | undefined>>,
): string[] {
  return argv.map((a) =>
    a.replace(/\$\{(\w+)\}/g, (_, name: string) => {
      const v = values[name];
      if (v === undefined || v === '') throw new Error(`no value for \${${name}}`);
      return v;
    }),
  );
}

/** redis-cli's splitting: whitespace separates, double quotes group (with \" escapes). */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.matchAll(re))
    out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? ''));
  return out;
}

const FORBIDDEN: [RegExp, string][] = [
  [/^(allkeys|~\*|%R~\*|%W~\*|%RW~\*)$/i, 'access to every key'],
  [/^(\+@all|allcommands)$/i, 'every command'],
  [/^nopass$/i, 'no password'],
  [/^(allchannels|&\*)$/i, 'every pub/sub channel'],
  [/^\+@(dangerous|admin|keyspace|write)$/i, 'a broad command category'],
  [
    /^\+(flushall|flushdb|config.*|keys|del|unlink|debug|shutdown|acl.*|module.*|script\|flush)$/i,
    'a dangerous command',
  ],
];

/** Least-privilege rules for every user line. */
export function lintAclFile(text: string, subject = 'k8s/redis-acl.conf'): Finding[] {
  const out: Finding[] = [];
  let users: AclUser[];
  try {
    users = parseAclFile(text);
  } catch (error) {
    return [{ subject, path: '', message: error instanceof Error ? error.message : String(error) }];
  }
  for (const u of users) {
    const f = (message: string) => out.push({ subject, path: `line ${u.line} (${u.name})`, message });
    const words = u.argv.slice(3).flatMap((a) => (a.startsWith('(') ? splitArgs(a.slice(1, -1)) : [a]));
    for (const required of ['reset', 'on', 'resetchannels', '-@all']) {
      if (!u.argv.slice(3).includes(required)) f(`must say "${required}"`);
    }
    if (!u.argv.some((a) => /^>\$\{\w+\}$/.test(a)))
      f('password must be an envsubst placeholder (>$ then {NAME}), never a literal');
    for (const w of words) {
      for (const [re, what] of FORBIDDEN) if (re.test(w)) f(`"${w}" grants ${what}`);
      if (/^(%\w*)?~/.test(w) && !/^(%\w*)?~streamsink:/.test(w))
        f(`key pattern ${w} is outside streamsink:*`);
    }
  }
  const names = new Set(users.map((u) => u.name));
  if (names.size !== users.length) out.push({ subject, path: '', message: 'a user is defined twice' });
  return out;
}
