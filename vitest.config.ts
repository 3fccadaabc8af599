import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Unit tests have no I/O and no module state (config passed explicitly, no globals; the one test with
          // fake timers restores them after each): they can share a module graph per worker. Re-importing it
          // for each of ~80 files took 24 s of a 25 s run; shared, the project takes ~11 s.
          isolate: false,
          // Projects with different maxWorkers need distinct group orders to run in one `vitest run`.
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          // Worker processes spawned by tests inherit these: each binds its ops server to a free loopback
          // port instead of fighting over 9464.
          env: { METRICS_PORT: '0', METRICS_HOST: '127.0.0.1' },
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // A file's servers, clients and child processes are its own and closed in its afterAll, and no test
          // writes process.env or a global: files can share a module graph per worker too. Re-importing src/,
          // pg and ioredis for each of ~70 files cost about 25 s of wall time at two workers.
          isolate: false,
          // Each file owns its streams and schema, so files run in parallel. The files spend much of their time
          // waiting (on Redis, Postgres, child workers, outages they stage): at two workers a 2-core box sat
          // ~30% idle (vmstat), at three ~12%, and the project took ~170 s instead of ~200 s. A fixed count, as
          // before: a percentage in vitest is capped at the core count.
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
