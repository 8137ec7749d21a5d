// Development entry for `make cluster-up` / `make cluster-down`: the same
// control plane the tests use, left running in the background with its pids
// recorded in a state dir (default .cache/cluster, git-ignored).
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startControlPlane } from './control-plane.js';
import { pidRuns, stopControlPlanePids } from './processes.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const stateDir = resolve(process.env.HEARTH_CLUSTER_STATE_DIR ?? join(repoRoot, '.cache', 'cluster'));
const stateFile = join(stateDir, 'state.json');

interface State {
  kubeconfigPath: string;
  server: string;
  logsDir: string;
  binDir: string;
  /** In start order; stopped in reverse. */
  pids: [name: string, pid: number][];
}

async function readState(): Promise<State | undefined> {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(await readFile(stateFile, 'utf8')) as State;
}

async function running(state: State): Promise<boolean> {
  const alive = await Promise.all(state.pids.map(([name, pid]) => pidRuns(pid, join(state.binDir, name))));
  return alive.every(Boolean);
}

async function down(): Promise<void> {
  const state = await readState();
  if (state === undefined) {
    console.log(`no cluster recorded in ${stateDir}`);
    return;
  }
  // Only signal a pid that still runs our binary: pids get reused.
  const ours = await Promise.all(state.pids.map(async ([name, pid]) => ((await pidRuns(pid, join(state.binDir, name))) ? [{ name, pid }] : [])));
  await stopControlPlanePids(ours.flat());
  for (const sub of ['data', 'pki', 'kubeconfig', 'state.json']) await rm(join(stateDir, sub), { recursive: true, force: true });
  console.log(`cluster stopped; logs kept in ${state.logsDir}`);
}

async function up(): Promise<void> {
  const existing = await readState();
  if (existing !== undefined) {
    if (await running(existing)) {
      console.log(`cluster already running at ${existing.server}\nexport KUBECONFIG=${existing.kubeconfigPath}`);
      return;
    }
    console.log('previous cluster is (partly) gone; cleaning it up');
    await down();
  }
  await rm(join(stateDir, 'logs'), { recursive: true, force: true });
  await mkdir(stateDir, { recursive: true });
  const began = Date.now();
  const cp = await startControlPlane({ workDir: stateDir, detached: true, log: (m) => console.log(`cluster-up: ${m}`) });
  const state: State = { kubeconfigPath: cp.kubeconfigPath, server: cp.server, logsDir: cp.logsDir, binDir: cp.binDir, pids: Object.entries(cp.pids) };
  await writeFile(stateFile, JSON.stringify(state, null, 2));
  console.log(`cluster up in ${((Date.now() - began) / 1000).toFixed(1)} s at ${cp.server} (logs: ${cp.logsDir}; stop with make cluster-down)`);
  console.log(`export KUBECONFIG=${cp.kubeconfigPath}`);
}

const command = process.argv[2];
try {
  if (command === 'up') await up();
  else if (command === 'down') await down();
  else {
    console.error('usage: tsx test/cluster/cli.ts up|down');
    process.exitCode = 2;
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
}
// The detached components must outlive us; open HTTP agents must not keep us alive.
process.exit();
