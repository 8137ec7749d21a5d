import { basename } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// The e2e files build on each other as an operator's session does: hearth.test.ts
// installs the chart, churn.test.ts changes everything under load on that
// release, versions.test.ts canaries a change on it, process-node.test.ts
// checks the node on its own pods.
const ORDER = ['hearth.test.ts', 'churn.test.ts', 'versions.test.ts', 'process-node.test.ts'];

class SessionOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): number => {
      const i = ORDER.indexOf(basename(f.moduleId));
      return i < 0 ? ORDER.length : i;
    };
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

// End-to-end suite on the process-node cluster (test/cluster/process-cluster.ts):
// the global setup builds what is missing and starts the whole cluster; the
// runner must already be inside the cluster's network namespace, which
// `make e2e-local` arranges (test/cluster/netns-run.sh). Files share one
// cluster, so they run one at a time, in ORDER.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    sequence: { sequencer: SessionOrder },
    testTimeout: 300_000,
    hookTimeout: 600_000,
    teardownTimeout: 120_000,
    pool: 'forks',
  },
});
