// `make cluster-up` / `make cluster-down`: the process-node cluster (with
// kwok's fake node beside it) in the network namespace `hearth-dev`, left
// running in the background; state in .cache/process-cluster.
// Runs inside the namespace (netns-run.sh --exec); the Makefile does that.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { repoRoot } from './node/images.js';
import { startProcessCluster, sweepRun } from './process-cluster.js';
import { pidRuns, stopPid } from './processes.js';

const stateDir = resolve(process.env.HEARTH_CLUSTER_STATE_DIR ?? join(repoRoot, '.cache', 'process-cluster'));
const stateFile = join(stateDir, 'state.json');
const netns = process.env.HEARTH_NETNS ?? 'hearth-dev';

interface State {
  kubeconfigPath: string;
  server: string;
  logsDir: string;
  binDir: string;
  /** The run's id (leaks.ts): what the node's teardown left of it is found by it. Absent in state from before. */
  runId?: string;
  /** In start order; stopped in reverse (the node before the control plane). */
  pids: [name: string, pid: number, bin: string][];
}

async function readState(): Promise<State | undefined> {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(await readFile(stateFile, 'utf8')) as State;
}

async function down(): Promise<void> {
  const state = await readState();
  if (state === undefined) {
    console.log(`no cluster recorded in ${stateDir}`);
    return;
  }
  const order = ['process-node', 'coredns', 'kube-proxy', 'kwok', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd'];
  const sorted = [...state.pids].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
  for (const [, pid, bin] of sorted) if (await pidRuns(pid, bin)) await stopPid(pid, 30_000);
  // What the node's teardown missed (or all of it, had the node to be killed) is this run's leak: said and removed.
  const left = state.runId === undefined ? [] : await sweepRun(state.runId);
  for (const sub of ['control-plane/data', 'control-plane/pki', 'process-node.json', 'Corefile', 'state.json']) await rm(join(stateDir, sub), { recursive: true, force: true });
  if (left.length > 0) {
    console.error(`cluster-down: the process node's teardown left this behind (run ${state.runId ?? ''}); removed now:\n${left.map((l) => `  ${l}`).join('\n')}`);
    process.exitCode = 1;
  }
  console.log(`cluster stopped; logs kept in ${state.logsDir}`);
}

function howTo(state: State): string {
  const inCluster = `${join(repoRoot, 'test/cluster/netns-run.sh')} --exec ${netns} -- env KUBECONFIG=${state.kubeconfigPath} PATH=${state.binDir}:$PATH`;
  return [
    `export KUBECONFIG=${state.kubeconfigPath}`,
    `# kubectl, helm or curl inside the cluster's network namespace (cluster DNS works there):`,
    `${inCluster} kubectl get nodes`,
    `# Hearth on it (the node has no storage provisioner, so the bundled Redis keeps its data in the pod):`,
    `${inCluster} helm install hearth charts/hearth -n hearth --create-namespace --set redis.bundled.persistence.enabled=false --wait`,
  ].join('\n');
}

async function up(): Promise<void> {
  const existing = await readState();
  if (existing !== undefined) {
    const alive = await Promise.all(existing.pids.map(([, pid, bin]) => pidRuns(pid, bin)));
    if (alive.every(Boolean)) {
      console.log(`cluster already running at ${existing.server}\n${howTo(existing)}`);
      return;
    }
    console.log('previous cluster is (partly) gone; cleaning it up');
    await down();
  }
  await mkdir(stateDir, { recursive: true });
  const began = Date.now();
  const c = await startProcessCluster({ workDir: stateDir, detached: true, log: (m) => console.log(`cluster-up: ${m}`) });
  const bins: Record<string, string> = { 'process-node': process.execPath };
  const state: State = {
    kubeconfigPath: c.kubeconfigPath,
    server: c.server,
    logsDir: c.logsDir,
    binDir: c.binDir,
    runId: c.runId,
    pids: Object.entries(c.pids).map(([name, pid]) => [name, pid, bins[name] ?? join(c.binDir, name)]),
  };
  await writeFile(stateFile, JSON.stringify(state, null, 2));
  console.log(`cluster up in ${((Date.now() - began) / 1000).toFixed(1)} s at ${c.server} (network namespace ${netns}; logs: ${c.logsDir}; stop with make cluster-down)`);
  console.log(howTo(state));
}

const command = process.argv[2];
try {
  if (command === 'up') await up();
  else if (command === 'down') await down();
  else {
    console.error('usage: tsx test/cluster/process-cli.ts up|down');
    process.exitCode = 2;
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
}
process.exit();
