import { defineConfig } from 'vitest/config';

// Kubernetes integration suites: one real control plane (etcd, kube-apiserver,
// controller-manager, scheduler, kwok) is built if needed and started by the
// global setup, then shared by every file, so files run one at a time.
export default defineConfig({
  test: {
    include: ['test/k8s/**/*.test.ts'],
    globalSetup: ['test/cluster/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    pool: 'forks',
  },
});
