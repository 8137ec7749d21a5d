// Global setup of vitest.e2e.config.ts: builds dist/ and the cluster programs
// if needed and starts the process-node cluster. The runner itself must be
// inside the cluster's network namespace (make e2e-local runs it through
// test/cluster/netns-run.sh), so tests reach ClusterIPs and cluster DNS.
// Under CI=true nothing may skip: any failure here fails the run.
import { spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { repoRoot } from '../cluster/node/images.js';
import { startProcessCluster, type ProcessCluster } from '../cluster/process-cluster.js';

export interface E2eContext {
  kubeconfigPath: string;
  server: string;
  token: string;
  caPem: string;
  binDir: string;
  logsDir: string;
  workDir: string;
  nodeName: string;
  /** When setup began (epoch ms): the start of "cluster-up to first Hello, world!". */
  setupStartedAt: number;
  clusterReadyAt: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eContext;
  }
}

function fatal(message: string): never {
  console.error(`\n[e2e] FATAL: ${message}\n`);
  throw new Error(message);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const setupStartedAt = Date.now();
  if (process.env.HEARTH_NETNS === undefined) fatal('the e2e suite runs inside the cluster network namespace: use `make e2e-local`');
  // The chart's images run dist/ from this checkout.
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'inherit' });
  if (tsc.status !== 0) fatal('building dist/ (npx tsc -p tsconfig.build.json) failed');
  let cluster: ProcessCluster;
  try {
    cluster = await startProcessCluster({ log: (m) => console.log(`[e2e] ${m}`) });
  } catch (err) {
    fatal(err instanceof Error ? err.message : String(err));
  }
  const clusterReadyAt = Date.now();
  console.log(`[e2e] cluster ready in ${((clusterReadyAt - setupStartedAt) / 1000).toFixed(1)} s; KUBECONFIG=${cluster.kubeconfigPath}`);
  project.provide('e2e', {
    kubeconfigPath: cluster.kubeconfigPath,
    server: cluster.server,
    token: cluster.token,
    caPem: cluster.caPem,
    binDir: cluster.binDir,
    logsDir: cluster.logsDir,
    workDir: cluster.workDir,
    nodeName: cluster.nodeName,
    setupStartedAt,
    clusterReadyAt,
  });

  return async () => {
    const state = project.vitest.state;
    const failed = state.getCountOfFailedTests() > 0 || state.getFiles().some((f) => f.result?.state === 'fail');
    const keepLogs = failed || process.env.HEARTH_K8S_KEEP_LOGS === '1';
    // What the node made on the machine (holders, cgroups, pod directories) must be gone once it stopped;
    // stop() says what of this run was left (and removes it). netns-run.sh then checks the namespace and processes.
    const left = await cluster.stop({ keepLogs });
    if (keepLogs) console.log(`[e2e] logs kept in ${cluster.logsDir}`);
    const run = `run ${cluster.runId} (netns ${process.env.HEARTH_NETNS ?? '?'}, vitest pid ${process.pid}, work dir ${cluster.workDir})`;
    if (left.length > 0) throw new Error(`[e2e] the process node's teardown of ${run} left behind (removed now):\n${left.map((l) => `  ${l}`).join('\n')}`);
    console.log(`[e2e] teardown of ${run}: no pod holder, cgroup or pod directory left`);
  };
}
