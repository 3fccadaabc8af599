// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ACL lines carry envsubst placeholders such as >${P}
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lintAclFile, parseAclFile, splitArgs, substitute } from '../../scripts/deploy/redis-acl.ts';

const ACL = readFileSync(fileURLToPath(new URL('../../k8s/redis-acl.conf', import.meta.url)), 'utf8');
const DOC = readFileSync(fileURLToPath(new URL('../../docs/deploy.md', import.meta.url)), 'utf8');

describe('k8s/redis-acl.conf', () => {
  it('defines the four roles and passes the least-privilege lint', () => {
    expect(parseAclFile(ACL).map((u) => u.name)).toEqual([
      'streamsink-producer',
      'streamsink-worker',
      'streamsink-redrive',
      'streamsink-keda',
    ]);
    expect(lintAclFile(ACL)).toEqual([]);
  });

  it('appears verbatim in docs/deploy.md, so the documented lines are the tested ones', () => {
    for (const line of ACL.split('\n').filter((l) => l.startsWith('ACL SETUSER')))
      expect(DOC).toContain(line);
  });

  it('splits like redis-cli (quoted selectors stay one argument)', () => {
    expect(splitArgs('ACL SETUSER u "(~a:* +get)" ~b')).toEqual(['ACL', 'SETUSER', 'u', '(~a:* +get)', '~b']);
  });

  it('refuses to apply a user without its password', () => {
    expect(() => substitute(['>${P}'], {})).toThrow(/no value/);
    expect(substitute(['>${P}', '~x'], { P: 's3cret' })).toEqual(['>s3cret', '~x']);
  });

  const bad: [string, string, RegExp][] = [
    [
      'every command',
      'ACL SETUSER u reset on >${P} resetchannels -@all +@all ~streamsink:*',
      /every command/,
    ],
    ['every key', 'ACL SETUSER u reset on >${P} resetchannels -@all +get ~*', /every key/],
    [
      'a literal password',
      'ACL SETUSER u reset on >hunter2 resetchannels -@all +get ~streamsink:*',
      /placeholder/,
    ],
    ['no reset', 'ACL SETUSER u on >${P} resetchannels -@all +get ~streamsink:*', /"reset"/],
    ['foreign keys', 'ACL SETUSER u reset on >${P} resetchannels -@all +get ~other:*', /outside streamsink/],
    [
      'FLUSHALL in a selector',
      'ACL SETUSER u reset on >${P} resetchannels -@all "(~streamsink:* +flushall)"',
      /dangerous/,
    ],
  ];
  for (const [what, line, expected] of bad) {
    it(`flags ${what}`, () => {
      expect(
        lintAclFile(line)
          .map((f) => f.message)
          .join('\n'),
      ).toMatch(expected);
    });
  }
});
