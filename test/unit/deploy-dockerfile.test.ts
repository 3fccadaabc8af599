import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lintDockerfile, parseDockerfile } from '../../scripts/deploy/dockerfile-lint.ts';

const DOCKERFILE = readFileSync(fileURLToPath(new URL('../../Dockerfile', import.meta.url)), 'utf8');
const BASE = 'ARG NODE_IMAGE=node:24.21.0-bookworm-slim';
const withBase = (image: string) => DOCKERFILE.replace(BASE, `ARG NODE_IMAGE=${image}`);
const messages = (text: string) =>
  lintDockerfile(text)
    .map((f) => `${f.path}: ${f.message}`)
    .join('\n');

describe('Dockerfile lint', () => {
  it('passes the real Dockerfile', () => {
    expect(DOCKERFILE).toContain(BASE);
    expect(lintDockerfile(DOCKERFILE)).toEqual([]);
  });

  it('joins continuation lines and skips comments', () => {
    const ins = parseDockerfile('# c\nFROM a:1.2.3 AS x\nRUN one \\\n  # inside\n  two\nUSER 1\n');
    expect(ins).toEqual([
      { line: 2, keyword: 'FROM', args: 'a:1.2.3 AS x' },
      { line: 3, keyword: 'RUN', args: 'one    two' },
      { line: 6, keyword: 'USER', args: '1' },
    ]);
  });

  const cases: [string, (d: string) => string, RegExp][] = [
    ['a floating base tag', () => withBase('node:24-bookworm-slim'), /pin a full x\.y\.z/],
    ['latest', () => withBase('node:latest'), /must not float/],
    ['another Node major', () => withBase('node:22.11.0-bookworm-slim'), /not Node 24/],
    ['a named user', (d) => d.replace('USER 65532:65532', 'USER node'), /must be numeric/],
    ['root', (d) => d.replace('USER 65532:65532', 'USER 0'), /not be root/],
    ['no STOPSIGNAL', (d) => d.replace('STOPSIGNAL SIGTERM', ''), /STOPSIGNAL SIGTERM/],
    [
      'shell-form ENTRYPOINT',
      (d) => d.replace(/^ENTRYPOINT \[.*\]$/m, 'ENTRYPOINT node --max-semi-space-size=8 dist/cli/main.js'),
      /exec form/,
    ],
    ['dev dependencies in the runtime', (d) => d.replace('npm ci --omit=dev', 'npm ci'), /--omit=dev/],
    [
      'node_modules from the build stage',
      (d) => d.replace('COPY --from=deps /app/node_modules', 'COPY --from=build /app/node_modules'),
      /from: build/,
    ],
    [
      'npm install',
      (d) => d.replace('RUN npm run build', 'RUN npm install && npm run build'),
      /npm ci, not npm install/,
    ],
    ['no NODE_ENV', (d) => d.replace('NODE_ENV=production', 'NODE_ENV=development'), /NODE_ENV=production/],
    [
      'curl | sh',
      (d) => d.replace('RUN npm run build', 'RUN curl -fsSL https://x.example/i.sh | sh'),
      /curl \| sh/,
    ],
    [
      'a single stage',
      () =>
        'FROM node:24.21.0-bookworm-slim\nENV NODE_ENV=production\nUSER 1000\nSTOPSIGNAL SIGTERM\nENTRYPOINT ["node"]\n',
      /multi-stage/,
    ],
  ];
  for (const [what, mutate, expected] of cases) {
    it(`fails on ${what}`, () => {
      const text = mutate(DOCKERFILE);
      expect(text).not.toBe(DOCKERFILE);
      expect(messages(text)).toMatch(expected);
    });
  }

  it('accepts a digest-pinned base', () => {
    const digest = `node:24.21.0-bookworm-slim@sha256:${'a'.repeat(64)}`;
    expect(DOCKERFILE).toContain(BASE);
    expect(lintDockerfile(withBase(digest))).toEqual([]);
    // A bare digest hides the Node version: keep the tag beside it.
    expect(messages(withBase(`node@sha256:${'a'.repeat(64)}`))).toMatch(/not Node 24/);
  });
});
