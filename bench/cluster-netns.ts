// What the benchmarks on the process-node cluster share (coldstart.ts,
// cluster-warm.ts): building what the cluster runs outside the network
// namespace, re-running the bench inside one made for it by
// test/cluster/netns-run.sh, and calling the cluster's own helm and kubectl.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/cluster/node/images.js';
import type { ProcessCluster } from '../test/cluster/process-cluster.js';
import { skipped, type Row } from './report.js';

function runOrThrow(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${String(r.status ?? r.signal)}`);
}

/**
 * Runs the bench file `self` again inside a network namespace of its own, as
 * `self --inside OUT`, and returns the rows it wrote to OUT. `what` names the
 * run in its skip row and its errors.
 */
export async function runInClusterNetns(self: string, what: string): Promise<Row[]> {
  if (process.getuid?.() !== 0) return [skipped(what, 'needs root (network namespace, cgroups), as make e2e-local does')];
  // Outside the namespace, where the Go module proxy is reachable: what the cluster runs, and dist/ the chart's images run.
  runOrThrow('bash', ['test/cluster/build.sh']);
  runOrThrow('bash', ['test/cluster/build-coredns.sh']);
  runOrThrow('npx', ['tsc', '-p', 'tsconfig.build.json']);
  const out = join(tmpdir(), `hearth-bench-${process.pid}-${Date.now()}.json`);
  const netns = `hearth-bench-${process.pid}`;
  const code = await new Promise<number>((done) => {
    const child = spawn('bash', ['test/cluster/netns-run.sh', netns, '--', process.execPath, '--import', 'tsx', self, '--inside', out], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('exit', (c, s) => done(c ?? (s === null ? 1 : 128)));
  });
  let rows: Row[] | undefined;
  try {
    rows = JSON.parse(readFileSync(out, 'utf8')) as Row[];
  } catch {
    rows = undefined;
  } finally {
    rmSync(out, { force: true });
  }
  if (code !== 0 || rows === undefined) throw new Error(`${what}: the run in netns ${netns} failed (exit ${code}${rows === undefined ? ', no rows' : ''}); its output is above`);
  return rows;
}

/** The cluster's helm or kubectl, on its kubeconfig; resolves with what it printed. */
export function clusterTool(c: { binDir: string; kubeconfigPath: string }, name: 'helm' | 'kubectl', args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile(join(c.binDir, name), args, { cwd: repoRoot, env: { ...process.env, KUBECONFIG: c.kubeconfigPath }, timeout: 600_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${name} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else done(stdout);
    });
  });
}

/**
 * The run inside the namespace: starts the process-node cluster, measures,
 * stops it (keeping its logs when the measurement failed) and writes the rows
 * to `out` for runInClusterNetns. A teardown that left something behind fails
 * the run too.
 */
export async function measureInCluster(out: string, measure: (cluster: ProcessCluster) => Promise<Row[]>, log: (m: string) => void): Promise<void> {
  const { startProcessCluster } = await import('../test/cluster/process-cluster.js');
  const began = Date.now();
  const cluster = await startProcessCluster({ log });
  log(`cluster ready in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  let rows: Row[] | undefined;
  let failure: unknown;
  try {
    rows = await measure(cluster);
  } catch (err) {
    failure = err;
  }
  const left = await cluster.stop({ keepLogs: failure !== undefined || process.env.HEARTH_K8S_KEEP_LOGS === '1' });
  if (failure !== undefined) {
    log(`logs kept in ${cluster.logsDir}`);
    throw failure;
  }
  if (left.length > 0) throw new Error(`the process node's teardown left behind (removed now):\n${left.join('\n')}`);
  writeFileSync(out, JSON.stringify(rows));
}
