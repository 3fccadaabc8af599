import { describe, expect, it } from 'vitest';
import { DEFAULT_CONSOLE_PORT, parseConsoleConfig } from '../../../src/lib/config.ts';
import { ConfigError } from '../../../src/lib/errors.ts';

const TOKENS = 'olivia:operator:op-token-0123456789abcdef,victor:viewer:viewer-token-0123456789abcdef';

function configError(parse: () => unknown): ConfigError {
  try {
    parse();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('streamsink console configuration', () => {
  it('defaults to loopback, port 9465, the stream of STREAMSINK_STREAM, no trusted proxy', () => {
    const c = parseConsoleConfig({ STREAMSINK_CONSOLE_TOKENS: TOKENS, STREAMSINK_STREAM: 'payments' });
    expect(c.console).toMatchObject({
      host: '127.0.0.1',
      port: DEFAULT_CONSOLE_PORT,
      streams: ['payments'],
      trustProxyHeader: undefined,
      secureCookie: 'auto',
    });
    expect(c.console.tokens.map((t) => `${t.name}:${t.role}`)).toEqual(['olivia:operator', 'victor:viewer']);
  });

  it('reads tokens from a file named by STREAMSINK_CONSOLE_TOKENS_FILE', () => {
    const c = parseConsoleConfig(
      { STREAMSINK_CONSOLE_TOKENS_FILE: '/run/secrets/tokens' },
      { readFile: (path) => (path === '/run/secrets/tokens' ? `# ops\n${TOKENS.replace(',', '\n')}\n` : '') },
    );
    expect(c.console.tokens).toHaveLength(2);
  });

  it('refuses to start with no way in', () => {
    const e = configError(() => parseConsoleConfig({}));
    expect(e.issues.map((i) => i.variable)).toEqual(['STREAMSINK_CONSOLE_TOKENS']);
  });

  it('names every bad variable in one error and never shows a token', () => {
    const secret = 'tiny-secret';
    const e = configError(() =>
      parseConsoleConfig({
        STREAMSINK_CONSOLE_TOKENS: `olivia:operator:${secret}`,
        STREAMSINK_CONSOLE_PORT: '70000',
        STREAMSINK_CONSOLE_STREAMS: 'ok,not ok{}',
        STREAMSINK_CONSOLE_TRUST_PROXY_HEADER: 'X Bad',
        STREAMSINK_CONSOLE_SECURE_COOKIE: 'yes',
      }),
    );
    expect(e.issues.map((i) => i.variable).sort()).toEqual([
      'STREAMSINK_CONSOLE_PORT',
      'STREAMSINK_CONSOLE_SECURE_COOKIE',
      'STREAMSINK_CONSOLE_STREAMS',
      'STREAMSINK_CONSOLE_TOKENS',
      'STREAMSINK_CONSOLE_TRUST_PROXY_HEADER',
    ]);
    expect(e.message).not.toContain(secret);
    expect(e.issues.find((i) => i.variable === 'STREAMSINK_CONSOLE_TOKENS')?.received).toBe(
      '(secret, not shown)',
    );
  });

  it('needs proxy roles when a proxy header is trusted', () => {
    const e = configError(() =>
      parseConsoleConfig({ STREAMSINK_CONSOLE_TRUST_PROXY_HEADER: 'X-Forwarded-User' }),
    );
    expect(e.issues.map((i) => i.variable)).toEqual(['STREAMSINK_CONSOLE_PROXY_ROLES']);
    const c = parseConsoleConfig({
      STREAMSINK_CONSOLE_TRUST_PROXY_HEADER: 'X-Forwarded-User',
      STREAMSINK_CONSOLE_PROXY_ROLES: 'alice:operator,*:viewer',
    });
    expect(c.console.trustProxyHeader).toBe('x-forwarded-user');
    expect(c.console.proxyRoles.get('alice')).toBe('operator');
  });
});
