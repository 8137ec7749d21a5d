// Shared pieces of the controller's Kubernetes suites.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeRest, isStatus } from '../../src/kube/rest.js';
import { RESOURCES, resourcePath, type Resource } from '../../src/kube/paths.js';
import type { FunctionStatus } from '../../src/api/function.js';
import type { LeaseSpec } from '../../src/controller/leader-election.js';
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { CONTENT_APPLY, CONTENT_MERGE } from '../../src/kube/rest.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const crdFile = fileURLToPath(new URL('../../crds/hearth.dev_functions.yaml', import.meta.url));
export const versionCrdFile = fileURLToPath(new URL('../../crds/hearth.dev_functionversions.yaml', import.meta.url));
export const poolCrdFile = fileURLToPath(new URL('../../crds/hearth.dev_warmpools.yaml', import.meta.url));

/** Applies the Function, FunctionVersion and WarmPool CRDs (idempotent across suites) and waits until they are served: the controller watches all three. */
export async function installCrds(kc: KubeConfig): Promise<void> {
  const rest = new KubeRest(kc);
  try {
    for (const [file, name] of [[crdFile, 'functions.hearth.dev'], [versionCrdFile, 'functionversions.hearth.dev'], [poolCrdFile, 'warmpools.hearth.dev']] as const) {
      const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
      for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
        // Object defaults of `{}` are dropped: the API server refuses them where a CEL rule reads a
        // field of the object (crds/ as generated today; reported). The controller fills schema
        // defaults itself, so the suites do not depend on the API server's defaulting.
        const crd = withoutEmptyObjectDefaults(doc.toJS());
        await rest.request('PATCH', crdPath, { body: crd, contentType: CONTENT_APPLY, query: { fieldManager: 'hearth-controller-tests', force: true } });
      }
      await eventually(`the CRD ${name} Established`, async () => {
        const crd = await rest.request<{ status?: { conditions?: { type: string; status: string }[] } }>('GET', crdPath);
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
      }, 30_000);
    }
  } finally {
    rest.close();
  }
}

export async function createNamespace(rest: KubeRest, name: string): Promise<void> {
  await rest.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
}

/** Deletes the namespace, first dropping Function finalizers so it does not wait for a controller that has stopped. */
export async function deleteNamespace(rest: KubeRest, name: string): Promise<void> {
  const fns = await rest.request<{ items: { metadata?: { name?: string } }[] }>('GET', resourcePath(RESOURCES.Function, name)).catch(() => ({ items: [] }));
  for (const f of fns.items) {
    await rest.request('PATCH', resourcePath(RESOURCES.Function, name, f.metadata?.name ?? ''), { body: { metadata: { finalizers: null } }, contentType: CONTENT_MERGE }).catch(() => undefined);
  }
  await rest.request('DELETE', `/api/v1/namespaces/${name}`).catch(() => undefined);
}

export function functionManifest(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: RESOURCES.Function.apiVersion, kind: 'Function', metadata: { name }, spec };
}

export const pythonSpec = (body = 'return {"hello": "world"}') => ({
  runtime: 'python3.12',
  handler: 'app.handler',
  code: { inline: { 'app.py': `def handler(event, context):\n    ${body}\n` } },
  scaling: { minInstances: 1, maxInstances: 5 },
});

export interface FunctionObj {
  metadata?: { name?: string; uid?: string; generation?: number; finalizers?: string[] };
  spec?: Record<string, unknown>;
  status?: FunctionStatus;
}

export async function getOrUndefined<T>(rest: KubeRest, r: Resource, ns: string, name: string): Promise<T | undefined> {
  try {
    return await rest.request<T>('GET', resourcePath(r, ns, name));
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

/** Polls until check returns a value other than undefined, or fails with the last thing seen. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}

export function readyCondition(fn: FunctionObj | undefined) {
  return fn?.status?.conditions?.find((c) => c.type === 'Ready');
}

function withoutEmptyObjectDefaults(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutEmptyObjectDefaults);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === 'default' && x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 0) continue;
    out[k] = withoutEmptyObjectDefaults(x);
  }
  return out;
}

/** Lease timings of controller replicas a test starts (seconds). */
export interface LeaseTimings {
  leaseSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

/**
 * `hearth controller` replicas as child processes on one namespace, each
 * named by its identity, with their stderr (the JSON log) kept. kill() ends
 * those still running (SIGKILL): a test's afterAll.
 */
export function controllerReplicas(kubeconfigPath: string, ns: string, t: LeaseTimings) {
  const children = new Map<string, ChildProcess>();
  const logs = new Map<string, string>();
  return {
    children,
    logs,
    start(identity: string): ChildProcess {
      const child = spawn(process.execPath, [
        '--import', 'tsx', 'src/cli/main.ts', 'controller',
        '--kubeconfig', kubeconfigPath, '--namespace', ns, '--lease-namespace', ns, '--gateway-namespace', ns,
        '--identity', identity, '--metrics-port', '0',
        '--lease-duration', String(t.leaseSeconds), '--renew-deadline', String(t.renewDeadlineSeconds), '--retry-period', String(t.retryPeriodSeconds),
      ], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (d: Buffer) => logs.set(identity, (logs.get(identity) ?? '') + d.toString()));
      children.set(identity, child);
      return child;
    },
    lease: (rest: KubeRest) => getOrUndefined<{ spec?: LeaseSpec }>(rest, RESOURCES.Lease, ns, 'hearth-controller'),
    exited: (c: ChildProcess) => new Promise<number | null>((resolve) => (c.exitCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code)))),
    kill(): void {
      for (const c of children.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}
