import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const clusterDir = dirname(fileURLToPath(import.meta.url));
const buildScript = join(clusterDir, 'build.sh');

/** Programs the control plane needs at run time (kube-proxy, kubectl, helm are built for later suites). */
export const requiredPrograms = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const;
export type Program = (typeof requiredPrograms)[number];

/** skippable: only a machine without Go may skip the suites (outside CI); a failed build never may. */
export type BinariesResult = { ok: true; binDir: string } | { ok: false; reason: string; skippable: boolean };

/** build.sh owns the cache layout, so the bin dir is asked of it rather than recomputed here. */
export function cachedBinDir(): string {
  const out = spawnSync('bash', [buildScript, '--print-bin-dir'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${buildScript} --print-bin-dir failed: ${out.stderr}`);
  return out.stdout.trim();
}

export function hasGo(): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

function missingPrograms(binDir: string): string[] {
  return requiredPrograms.filter((p) => !existsSync(join(binDir, p)));
}

/**
 * Builds the control plane if the cache lacks it (a no-op taking well under a
 * second when cached). The build's progress goes to stderr because a cold
 * build takes minutes and silence would look like a hang.
 */
export async function ensureBinaries(): Promise<BinariesResult> {
  if (!hasGo()) {
    const binDir = cachedBinDir();
    // A cache left by an earlier build is still usable without Go.
    if (missingPrograms(binDir).length === 0) return { ok: true, binDir };
    return { ok: false, skippable: true, reason: 'the Go toolchain is not on PATH, so the Kubernetes control plane cannot be built' };
  }
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('bash', [buildScript], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', resolve);
  });
  if (code !== 0) return { ok: false, skippable: false, reason: `${buildScript} exited with ${String(code)} (see its output above)` };
  const binDir = cachedBinDir();
  const missing = missingPrograms(binDir);
  if (missing.length > 0) return { ok: false, skippable: false, reason: `build finished but ${missing.join(', ')} missing from ${binDir}` };
  return { ok: true, binDir };
}
