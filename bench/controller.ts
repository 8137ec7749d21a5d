// Controller benchmark: 500 Functions created at once against a real control
// plane (kwok pods), timed from each creation until the controller reports
// the Function Ready=True, with the controller's CPU time and peak memory
// read from /proc for the controller running as its own process.
// The controller runs as the image runs it: `node dist/cli/main.js`, from a
// build of src made for the run (tsc into .cache/bench-cli, bench/compiled-cli.ts). Run
// through tsx, the process would also hold tsx's transformer and every
// module's source twice (~80 MiB), which production never pays.
//
//   npx tsx bench/controller.ts [kubeconfig]   (no kubeconfig: starts a control plane)
//   BENCH_CONTROLLER_NODE_ARGS='--heapsnapshot-signal=SIGUSR2'   node flags for the controller (profiling)
//   BENCH_CONTROLLER_READY=0    stop once every Deployment is applied (quick runs; no Ready figures)
//   BENCH_CONTROLLER_TSX=1      run the controller through tsx as before (for comparison only)
//   BENCH_CONTROLLER_ENTRY=PATH  run this build's cli/main.js instead of building src (an earlier commit's, to compare under the same load)
//   BENCH_CONTROLLER_BASELINE=0  skip the baseline run (below)
// The baseline, first, on the same control plane: no controller at all, the
// bench itself writing each Function and, as soon as it is created, only the
// Deployment the controller would build for it. What the API server (and the
// kube-controller-manager's own work on those Deployments) takes here for
// 500 Functions, before any object a controller adds.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { buildDeployment } from '../src/controller/resources/deployment.js';
import { defaultImages } from '../src/controller/resources/images.js';
import { FIELD_MANAGER } from '../src/controller/resources/names.js';
import { checkFunction, type FunctionObject } from '../src/controller/resources/validation.js';
import { applyObject, type WireObject } from '../src/kube/objects.js';
import { RESOURCES, resourcePath } from '../src/kube/paths.js';
import { KubeRest } from '../src/kube/rest.js';
import { createNamespace, deleteNamespace, functionManifest, installCrds, pythonSpec } from '../test/k8s/controller-helpers.js';
import { compiledCli } from './compiled-cli.js';
import { processCpuMicros } from './process-cpu.js';
import { formatTable, summarize, type Row } from './report.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const FAKE_NODE_ANNOTATION = 'kwok.x-k8s.io/node';

export interface ControllerBenchOptions {
  count?: number;
  workers?: number;
  /** Functions created concurrently (the API calls in flight at once). */
  createConcurrency?: number;
  timeoutMs?: number;
}

interface ProcStats {
  cpuSeconds: number;
  rssMiB: number;
  peakRssMiB: number;
}

/** utime+stime from /proc/<pid>/stat and VmHWM (peak resident set) from /proc/<pid>/status. */
export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) / 1024;
  return { cpuSeconds: processCpuMicros(pid) / 1_000_000, rssMiB: kib('VmRSS'), peakRssMiB: kib('VmHWM') };
}

function fakeNode(name: string): object {
  const resources = { cpu: '64', memory: '512Gi', pods: '250' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations: { [FAKE_NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' }, labels: { 'kubernetes.io/hostname': name, type: 'kwok' } },
    status: { allocatable: resources, capacity: resources },
  };
}

interface NodeList {
  items: { metadata?: { name?: string }; spec?: { taints?: { key: string }[] }; status?: { allocatable?: { pods?: string }; conditions?: { type: string; status: string }[] } }[];
}

/** Adds kwok nodes until the fake nodes can hold `pods` more pods; returns the names added. */
async function ensureCapacity(rest: KubeRest, pods: number): Promise<string[]> {
  const nodes = await rest.request<NodeList>('GET', '/api/v1/nodes');
  const capacity = nodes.items.reduce((n, x) => n + Number(x.status?.allocatable?.pods ?? 0), 0);
  const used = (await rest.request<{ items: unknown[] }>('GET', '/api/v1/pods', { query: { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' } })).items.length;
  const missing = pods + 50 - (capacity - used);
  const added: string[] = [];
  for (let i = 0; i * 250 < missing; i++) {
    const name = `hearth-bench-${randomBytes(3).toString('hex')}`;
    await rest.request('POST', '/api/v1/nodes', { body: fakeNode(name) });
    added.push(name);
  }
  const deadline = Date.now() + 60_000;
  while (added.length > 0 && Date.now() < deadline) {
    const list = await rest.request<NodeList>('GET', '/api/v1/nodes');
    const ok = added.every((n) => {
      const node = list.items.find((x) => x.metadata?.name === n);
      return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && !node.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/'));
    });
    if (ok) break;
    await sleep(250);
  }
  return added;
}

function startController(kubeconfigPath: string, namespace: string, workers: number, entry: string | undefined): Promise<ChildProcess> {
  const nodeArgs = (process.env.BENCH_CONTROLLER_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
  const child = spawn(process.execPath, [
    ...nodeArgs,
    ...(entry === undefined ? ['--import', 'tsx', 'src/cli/main.ts'] : [entry]), 'controller',
    '--kubeconfig', kubeconfigPath, '--namespace', namespace, '--gateway-namespace', namespace,
    '--leader-elect', 'false', '--metrics-port', '0', '--workers', String(workers),
  ], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (d: Buffer): void => {
      log += d.toString();
      if (log.includes('controller started')) {
        child.stderr?.off('data', onData);
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`controller exited with ${String(code)}: ${log.slice(-2000)}`)));
  });
}

interface WatchedFunction {
  metadata?: { name?: string };
  status?: { conditions?: { type: string; status: string }[] };
}

const NAMES = (count: number): string[] => Array.from({ length: count }, (_, i) => `fn-${String(i).padStart(4, '0')}`);

/** Creates the Functions, `concurrency` at a time; `on` hears of each as it is sent and as the API server answers it. */
async function createFunctions(rest: KubeRest, ns: string, names: readonly string[], concurrency: number, on: { sending?: (name: string) => void; created?: (obj: FunctionObject) => void } = {}): Promise<void> {
  let next = 0;
  const creator = async (): Promise<void> => {
    for (let name = names[next++]; name !== undefined; name = names[next++]) {
      on.sending?.(name);
      const created = await rest.request<FunctionObject>('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest(name, pythonSpec(`return ${JSON.stringify(name)}`)) });
      on.created?.(created);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, creator));
}

/**
 * The baseline: each Function created, then its Deployment applied at once
 * by the bench (the controller's builder, its field manager), 50 in flight.
 * Returns ms from the first create until every Deployment was applied.
 */
async function baselineRun(rest: KubeRest, count: number, concurrency: number): Promise<number> {
  const ns = `bench-base-${randomBytes(3).toString('hex')}`;
  await createNamespace(rest, ns);
  const images = defaultImages();
  const applies: Promise<unknown>[] = [];
  const began = Date.now();
  try {
    await createFunctions(rest, ns, NAMES(count), concurrency, {
      created: (obj) => {
        const checked = checkFunction(obj, images);
        if (!checked.ok) throw new Error(`baseline: ${checked.message}`);
        applies.push(applyObject(rest, buildDeployment({ fn: checked.fn, meta: checked.meta }, { images }) as WireObject, FIELD_MANAGER));
      },
    });
    await Promise.all(applies);
    return Date.now() - began;
  } finally {
    await deleteNamespace(rest, ns);
    // Its pods, ReplicaSets and Deployments are collected before the measured run starts, not during it.
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline && (await rest.request('GET', `/api/v1/namespaces/${ns}`).then(() => true, () => false))) await sleep(1000);
  }
}

export async function benchController(kubeconfigPath: string, opts: ControllerBenchOptions = {}): Promise<Row[]> {
  const count = opts.count ?? 500;
  const workers = opts.workers ?? Number(process.env.BENCH_CONTROLLER_WORKERS ?? '8');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const rest = new KubeRest(kc);
  const ns = `bench-${randomBytes(3).toString('hex')}`;
  await installCrds(kc);
  const nodes = await ensureCapacity(rest, count);
  const baselineMs = process.env.BENCH_CONTROLLER_BASELINE === '0' ? undefined : await baselineRun(rest, count, opts.createConcurrency ?? 50);
  await createNamespace(rest, ns);
  const entry = process.env.BENCH_CONTROLLER_TSX === '1' ? undefined : (process.env.BENCH_CONTROLLER_ENTRY ?? (await compiledCli()));
  const controller = await startController(kubeconfigPath, ns, workers, entry);
  const pid = controller.pid ?? 0;
  let abort: AbortController | undefined;
  let abortDeployments: AbortController | undefined;
  try {
    const idle = procStats(pid);
    const createdAt = new Map<string, number>();
    const readyAt = new Map<string, number>();
    let allReady: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (allReady = resolve));
    abort = await new Watch(kc).watch(resourcePath(RESOURCES.Function, ns), {}, (_type: string, obj: WatchedFunction) => {
      const name = obj.metadata?.name;
      if (name === undefined || readyAt.has(name)) return;
      if (obj.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) {
        readyAt.set(name, Date.now());
        if (readyAt.size === count) allReady();
      }
    }, () => undefined);

    // When each Deployment first appears: the controller's own share of the latency, before the
    // kube-controller-manager's ReplicaSets, pods and kwok take over.
    const deployedAt = new Map<string, number>();
    let allDeployed: () => void = () => undefined;
    const deployed = new Promise<void>((resolve) => (allDeployed = resolve));
    abortDeployments = await new Watch(kc).watch(resourcePath(RESOURCES.Deployment, ns), {}, (_type: string, obj: WatchedFunction) => {
      const name = obj.metadata?.name;
      if (name !== undefined && !deployedAt.has(name)) {
        deployedAt.set(name, Date.now());
        if (deployedAt.size === count) allDeployed();
      }
    }, () => undefined);
    const waitReady = process.env.BENCH_CONTROLLER_READY !== '0';

    const names = NAMES(count);
    const began = Date.now();
    console.error(`[controller bench] creating ${count} Functions from ${(began / 1000).toFixed(2)} (epoch s)`);
    await createFunctions(rest, ns, names, opts.createConcurrency ?? 50, { sending: (name) => createdAt.set(name, Date.now()) });
    const createdMs = Date.now() - began;
    const timeoutMs = opts.timeoutMs ?? 600_000;
    // The timeout's timer is cancelled once the race is decided: left pending it would keep the
    // process alive for up to timeoutMs after the tables are printed (npm run bench never exiting).
    const giveUp = new AbortController();
    const timedOut = await Promise.race([
      (waitReady ? done : deployed).then(() => false),
      sleep(timeoutMs, true, { signal: giveUp.signal }).catch(() => false),
    ]).finally(() => giveUp.abort());
    const wallMs = Date.now() - began;
    const end = procStats(pid);
    const latencies = names.map((n) => (readyAt.get(n) ?? Number.NaN) - (createdAt.get(n) ?? 0)).filter((x) => Number.isFinite(x));
    const note =
      `${readyAt.size}/${count} Ready in ${(wallMs / 1000).toFixed(1)} s${timedOut ? ' (TIMED OUT)' : ''} (created in ${(createdMs / 1000).toFixed(1)} s); ` +
      `controller CPU ${(end.cpuSeconds - idle.cpuSeconds).toFixed(1)} s during the run (${end.cpuSeconds.toFixed(1)} s with start-up), ` +
      `peak RSS ${end.peakRssMiB.toFixed(0)} MiB (${idle.rssMiB.toFixed(0)} MiB idle before); ${workers} workers; 1 kwok pod each, kube-controller-manager at its default API rate`;
    const toDeployment = names.map((n) => (deployedAt.get(n) ?? Number.NaN) - (createdAt.get(n) ?? 0)).filter((x) => Number.isFinite(x));
    const lastDeployment = Math.max(...deployedAt.values()) - began;
    const headline: Row = {
      name: `controller: ${count} Functions, the figures of issue 22`,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      note: `time until all ${count} Deployments were applied: ${(lastDeployment / 1000).toFixed(1)} s (target <= 5 s); ` +
        `peak RSS ${end.peakRssMiB.toFixed(0)} MiB (target <= 150 MiB; ${idle.rssMiB.toFixed(0)} MiB idle before)${entry === undefined ? '; run through tsx' : ''}`,
    };
    const baseline: Row[] = baselineMs === undefined ? [] : [{
      name: `baseline: ${count} Functions and only their Deployments, no controller`,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      note: `all ${count} Deployments applied ${(baselineMs / 1000).toFixed(1)} s after the first create: the bench writing each Function, then the Deployment the controller would build, 50 in flight, on the same API server just before`,
    }];
    if (!waitReady) return [headline, ...baseline, summarize(`controller: ${count} Functions, create → Deployment`, toDeployment, { note: `BENCH_CONTROLLER_READY=0: stopped once every Deployment was applied; the Functions were created in ${(createdMs / 1000).toFixed(1)} s` })];
    return [
      headline,
      ...baseline,
      summarize(`controller: ${count} Functions, create → Deployment`, toDeployment, {
        rps: (deployedAt.size / lastDeployment) * 1000,
        note: `${deployedAt.size}/${count} Deployments applied in ${(lastDeployment / 1000).toFixed(1)} s (the controller's part)`,
      }),
      summarize(`controller: ${count} Functions, create → Ready`, latencies, { rps: (readyAt.size / wallMs) * 1000, note }),
    ];
  } finally {
    abort?.abort();
    abortDeployments?.abort();
    controller.kill('SIGTERM');
    await new Promise((resolve) => (controller.exitCode !== null ? resolve(undefined) : controller.once('exit', resolve)));
    await deleteNamespace(rest, ns);
    for (const n of nodes) await rest.request('DELETE', `/api/v1/nodes/${n}`).catch(() => undefined);
    rest.close();
  }
}

/** Starts a control plane of its own for the benchmark and stops it afterwards. */
export async function benchControllerStandalone(opts: ControllerBenchOptions = {}): Promise<Row[]> {
  const { startControlPlane } = await import('../test/cluster/control-plane.js');
  const cp = await startControlPlane({ fakeNodes: 1, log: (m) => console.error(`[k8s] ${m}`) });
  try {
    return await benchController(cp.kubeconfigPath, opts);
  } finally {
    await cp.stop();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const kubeconfig = process.argv[2];
  const rows = kubeconfig !== undefined ? await benchController(kubeconfig) : await benchControllerStandalone();
  console.log(formatTable('Controller: 500 Functions at once', rows));
}
