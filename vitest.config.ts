import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
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
          // Each file owns its streams and schema, so files run in parallel; two workers fit a 2-core box.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
