import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureBinaries } from './binaries.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';

/** What Kubernetes test files get from `inject('k8s')`. */
export type K8sContext =
  | {
      available: true;
      kubeconfigPath: string;
      server: string;
      token: string;
      caPem: string;
      logsDir: string;
      /** The cached bin dir: kubectl, helm, kube-proxy, … of the same release. */
      binDir: string;
      kubectl: string;
    }
  | { available: false; reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    k8s: K8sContext;
  }
}

const inCi = process.env.CI === 'true';

/**
 * Vitest reports a failed global setup as an unhandled error after a
 * misleading "No test files found", so say plainly what broke first.
 */
function fatal(message: string): never {
  console.error(`\n[k8s] FATAL: the Kubernetes control plane could not be started:\n${message}\n`);
  throw new Error(message);
}

/**
 * Vitest global setup for vitest.k8s.config.ts: builds the control plane if
 * the cache lacks it and starts one for all Kubernetes test files. Under
 * CI=true nothing may skip, so any failure throws and fails the run; outside
 * CI a machine without Go skips the suites and says why.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const built = await ensureBinaries();
  if (!built.ok) {
    const message = `Kubernetes control plane unavailable: ${built.reason}`;
    if (inCi || !built.skippable) fatal(`${message}${inCi ? ' (CI=true: the Kubernetes tests may not skip)' : ''}`);
    console.warn(`\n[k8s] SKIPPING Kubernetes tests: ${message}\n`);
    project.provide('k8s', { available: false, reason: built.reason });
    return async () => undefined;
  }

  const began = Date.now();
  let cp: ControlPlane;
  try {
    cp = await startControlPlane({ binDir: built.binDir, log: (m) => console.log(`[k8s] ${m}`) });
  } catch (err) {
    fatal(err instanceof Error ? err.message : String(err));
  }
  console.log(`[k8s] control plane started in ${((Date.now() - began) / 1000).toFixed(1)} s; KUBECONFIG=${cp.kubeconfigPath}`);
  project.provide('k8s', {
    available: true,
    kubeconfigPath: cp.kubeconfigPath,
    server: cp.server,
    token: cp.token,
    caPem: cp.caPem,
    logsDir: cp.logsDir,
    binDir: cp.binDir,
    kubectl: join(cp.binDir, 'kubectl'),
  });

  return async () => {
    const state = project.vitest.state;
    const failed = state.getCountOfFailedTests() > 0 || state.getFiles().some((f) => f.result?.state === 'fail');
    const keepLogs = failed || process.env.HEARTH_K8S_KEEP_LOGS === '1';
    await cp.stop({ keepLogs });
    if (keepLogs) console.log(`[k8s] control-plane logs kept in ${cp.logsDir}`);
  };
}
