import { defineConfig } from 'vitest/config';

// End-to-end suite on the process-node cluster (test/cluster/process-cluster.ts):
// the global setup builds what is missing and starts the whole cluster; the
// runner must already be inside the cluster's network namespace, which
// `make e2e-local` arranges (test/cluster/netns-run.sh). Files share one
// cluster, so they run one at a time.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 600_000,
    teardownTimeout: 120_000,
    pool: 'forks',
  },
});
