import { defineConfig } from 'vitest/config';

// Unit and integration suites that need no Kubernetes control plane.
// The Kubernetes suites have their own config (vitest.k8s.config.ts) because
// they share one control plane started by a global setup.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'runtimes/nodejs/**/*.test.ts'],
    exclude: ['test/k8s/**', 'test/e2e/**', 'node_modules/**', 'dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
