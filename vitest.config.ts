import { defineConfig } from 'vitest/config';

// Unit tests are pure (no I/O) and run in parallel. Integration tests share one
// local Kafka + schema registry stack, started once per run by the global setup.
export default defineConfig({
  resolve: { conditions: ['sluice-source'] },
  ssr: { resolve: { conditions: ['sluice-source'] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // Brute-force oracles over thousands of events take seconds each on two busy cores; 5 s (the default) is not a verdict on them.
          testTimeout: 60_000,
          include: ['shared/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'tools/*/test/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
          setupFiles: ['test/unit/fast-check-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['**/*.int.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['test/integration/global-setup.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 240_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
