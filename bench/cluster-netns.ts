// What the benchmarks on the process-node cluster share (coldstart.ts,
// cluster-warm.ts): building what the cluster runs outside the network
// namespace, re-running the bench inside one made for it by
// test/cluster/netns-run.sh, and calling the cluster's own helm and kubectl.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/cluster/node/images.js';
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
