import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis as Redis6 } from 'ioredis6';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPaymentsRegistry } from '../../src/consumers/pipelines/payments/events.ts';
import { createProducer } from '../../src/index.ts';
import { REPO_ROOT } from '../helpers/dist.ts';
import { uniqueName } from '../helpers/names.ts';

// The README's producer example, as a user's file, typechecked with `tsc --strict` against ioredis 5 and 6.
// The `ioredis` dependency range takes both, so a user's install has one copy, theirs: here `ioredis` resolves
// to the same copy for the example and for streamsink's own sources (`paths`), as it would in their project.
const run = promisify(execFile);
const TSC = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function readmeExample(): string {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
  const example = blocks.find((b) => b.includes('createProducer('));
  expect(example, 'the README has a ts block with createProducer').toBeDefined();
  return example as string;
}

async function typecheck(ioredisDir: string): Promise<{ code: number; output: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'streamsink-readme-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'example.ts'), readmeExample());
  writeFileSync(path.join(dir, 'package.json'), '{ "type": "module" }\n');
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const ioredisTypes = path.join(REPO_ROOT, 'node_modules', ioredisDir, 'built', 'index.d.ts');
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'es2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        noEmit: true,
        skipLibCheck: true,
        allowImportingTsExtensions: true,
        types: ['node'],
        paths: { streamsink: [path.join(REPO_ROOT, 'src', 'index.ts')], ioredis: [ioredisTypes] },
      },
      files: ['example.ts'],
    }),
  );
  try {
    const { stdout } = await run(process.execPath, [TSC, '-p', dir], { timeout: 240_000 });
    return { code: 0, output: stdout };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe("the README's SDK example", () => {
  it('typechecks under --strict with ioredis 5 and with ioredis 6', { timeout: 300_000 }, async () => {
    const [v5, v6] = await Promise.all([typecheck('ioredis'), typecheck('ioredis6')]);
    expect(v5.output).toBe('');
    expect(v5.code).toBe(0);
    expect(v6.output).toBe('');
    expect(v6.code).toBe(0);
  });

  it('publishes through an ioredis 6 client, dedupe included', async () => {
    const redis = new Redis6(inject('redisUrl'));
    const keyPrefix = uniqueName('ssio6');
    try {
      // The repository's own types are ioredis 5's; a user's project would have one copy (see above).
      const producer = createProducer({
        redis: redis as unknown as Parameters<typeof createProducer>[0]['redis'],
        keyPrefix,
        registry: createPaymentsRegistry(),
      });
      const event = {
        id: 'io6-1',
        type: 'payment.captured',
        key: 'pay-1',
        data: { paymentId: 'pay-1', accountId: 'acct-1', amountMinor: 100, currency: 'EUR' },
      };
      const first = await producer.publish('io6', event);
      expect(first.status).toBe('added');
      const again = await producer.publishBatch('io6', [event]);
      expect(again[0]).toMatchObject({
        status: 'duplicate',
        entryId: (first as { entryId: string }).entryId,
      });
      expect(await redis.xlen(`${keyPrefix}:{io6}`)).toBe(1);
    } finally {
      const keys = await redis.keys(`${keyPrefix}:*`);
      if (keys.length > 0) await redis.unlink(...keys);
      redis.disconnect();
    }
  });
});
