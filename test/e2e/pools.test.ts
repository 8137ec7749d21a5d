// Warm pools on the process-node cluster, with the chart's pools on (its
// default): an idle pool pod, inspected from the host as the node runs it
// (its pod directory with every volume, and the environment and mounts of
// every process in its cgroup), holds no code, no configuration and no
// secret of any function, and no ServiceAccount token; the first call of a
// function at zero claims it through the gateway's Service, and the same pod
// then holds that function's code (so the inspection would have seen it). A
// claimed pod carries its function's labels, serves only it (a second
// specialisation is refused with 409, a second function claims another pod)
// and keeps serving it through gateways that never saw the claim (every
// gateway pod replaced), and is deleted, never returned to the pool, once
// its function scales to zero; the pool refills to its desired size;
// `kubectl get warmpools` shows the pools; functions a pool cannot serve
// (their own ServiceAccount, another memory size) start a new pod of their
// own. Runs on the release hearth.test.ts installed, or installs it when run
// alone.
import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MEMORY_ROOT } from '../../src/sandbox/memory-cgroup.js';
import { ANNOTATION_SPEC_HASH, LABEL_CLAIMED, LABEL_CLAIMED_FROM, LABEL_POOL, LABEL_POOL_RUNTIME } from '../../src/pools/labels.js';
import { SPECIALIZE_PATH, SpecializationSchema } from '../../src/pools/specialization.js';
import { NODE_STATE_ROOT } from '../cluster/leaks.js';
import { NS, api, apiKey, containerPid, ensureRelease, gatewayMetricSum, invoke, isReady, kubectl, until, type ContainerStatusView } from './cluster.js';
import { applyPython } from './functions.js';

const POOL = 'python';
const F = 'pool-f';
const G = 'pool-g';
const ROLE_FN = 'pool-role';
const ROLE = 'pool-e2e-role';
const MEM_FN = 'pool-mem';

/** In F's code and in a literal env value of F: nothing of F may be in a pool pod before the claim. Unique per run. */
const MARKER = `hearth-pool-marker-${randomUUID()}`;
const CODE_MARKER = `${MARKER}-code`;
const ENV_MARKER = `${MARKER}-env`;

const reporter = (marker: string): string => `import os, socket

MARKER = '${marker}-code'

def lambda_handler(event, context):
    return {'host': socket.gethostname(), 'marker': MARKER, 'env': os.environ.get('POOL_MARKER'), 'function': context.function_name}
`;

interface Answer {
  host: string;
  marker: string;
  env: string | null;
  function: string;
}

async function call(fn: string): Promise<Answer> {
  const r = await invoke(fn, {}, { timeoutMs: 60_000 });
  if (r.status !== 200 || r.headers.get('x-amz-function-error') !== null) throw new Error(`${fn}: ${r.status} ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body) as Answer;
}

/** A Python function at zero that reports its pod; it stays at one instance once started (grace) until told otherwise. */
function applyReporter(name: string, marker: string, spec: Record<string, unknown> = {}, graceSeconds = 600): Promise<void> {
  return applyPython(name, reporter(marker), {
    timeoutSeconds: 30,
    env: [{ name: 'POOL_MARKER', value: `${marker}-env` }],
    scaling: { minInstances: 0, maxInstances: 1, stableWindowSeconds: 6, scaleToZeroGracePeriodSeconds: graceSeconds },
    ...spec,
  });
}

interface PodObject {
  metadata: {
    name: string;
    uid: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  };
  spec: {
    nodeName?: string;
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
    volumes?: { name: string; emptyDir?: object; [kind: string]: unknown }[];
    initContainers?: ContainerSpec[];
    containers: ContainerSpec[];
  };
  status: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: ContainerStatusView[];
    initContainerStatuses?: ContainerStatusView[];
  };
}

interface ContainerSpec {
  name: string;
  env?: { name: string; value?: string; valueFrom?: object }[];
  envFrom?: object[];
  resources?: { limits?: Record<string, string> };
}

const getPod = (name: string): Promise<PodObject | undefined> => api().getOrUndefined<PodObject>(`/api/v1/namespaces/${NS}/pods/${name}`);

async function listPods(selector: string): Promise<PodObject[]> {
  const list = await api().get<{ items: PodObject[] }>(`/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(selector)}`);
  return list.items;
}

/** Idle pods of the pool that are Ready to be claimed. */
async function readyIdle(pool: string): Promise<PodObject[]> {
  return (await listPods(`${LABEL_POOL}=${pool}`)).filter((p) => p.metadata.deletionTimestamp === undefined && isReady(p));
}

/** The pod a function answered from (its hostname is the pod's name). */
async function servingPod(host: string): Promise<PodObject> {
  const p = await getPod(host);
  if (p === undefined) throw new Error(`no pod ${host}`);
  return p;
}

/**
 * Every change to Hearth's pods in the namespace, from a watch that runs for
 * the whole file: what a pod's labels were after its claim, up to its
 * deletion, whatever happened between two polls.
 */
class PodHistory {
  readonly events: { type: string; uid: string; name: string; labels: Record<string, string>; at: number }[] = [];
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  async start(): Promise<void> {
    const path = `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent('app.kubernetes.io/managed-by=hearth')}`;
    const relist = async (): Promise<string> => {
      const list = await api().get<{ metadata: { resourceVersion: string }; items: PodObject[] }>(path);
      for (const p of list.items) this.#record('LISTED', p);
      return list.metadata.resourceVersion;
    };
    let rv = await relist();
    this.#loop = (async () => {
      while (!this.#abort.signal.aborted) {
        let gone = false;
        try {
          await api().watch<PodObject>(`${path}&resourceVersion=${rv}`, (e) => {
            if (e.type === 'ERROR') {
              gone = true;
              return;
            }
            if (e.object.metadata.resourceVersion !== undefined) rv = e.object.metadata.resourceVersion;
            if (e.type !== 'BOOKMARK') this.#record(e.type, e.object);
          }, this.#abort.signal);
          if (gone) rv = await relist();
        } catch {
          if (this.#abort.signal.aborted) return;
          await sleep(500);
          rv = await relist().catch(() => rv);
        }
      }
    })();
  }

  #record(type: string, p: PodObject): void {
    this.events.push({ type, uid: p.metadata.uid, name: p.metadata.name, labels: { ...(p.metadata.labels ?? {}) }, at: Date.now() });
  }

  of(uid: string): PodHistory['events'] {
    return this.events.filter((e) => e.uid === uid);
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop?.catch(() => undefined);
  }
}

// --- What the node holds of a pod, read from the host -----------------------

/** The node keeps a pod's volumes under <node work dir>/pods/<uid>/volumes/<name>; a uid names one pod in any run. */
function podDir(uid: string): string {
  const dirs = readdirSync(NODE_STATE_ROOT).map((run) => join(NODE_STATE_ROOT, run, 'pods', uid)).filter((d) => existsSync(d));
  if (dirs.length !== 1) throw new Error(`pod ${uid}: ${dirs.length} pod directories under ${NODE_STATE_ROOT}`);
  return dirs[0] ?? '';
}

/** Regular files under dir (FIFOs, sockets and links are not read: reading a FIFO would block). */
function regularFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = lstatSync(p);
      if (s.isDirectory()) walk(p);
      else if (s.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Files under dir whose name or content holds any of the needles. */
function filesHolding(dir: string, needles: string[]): string[] {
  return regularFiles(dir).filter((f) => {
    const text = readFileSync(f).toString('latin1');
    return needles.some((n) => f.includes(n) || text.includes(n));
  });
}

/** Every process in the pod's memory cgroup tree (holder, containers and whatever they started). */
function cgroupPids(uid: string): number[] {
  if (!existsSync(MEMORY_ROOT)) return [];
  const pids: number[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (name === 'cgroup.procs') pids.push(...readFileSync(p, 'utf8').split('\n').filter((l) => l !== '').map(Number));
      else if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  for (const node of readdirSync(MEMORY_ROOT).filter((n) => n.startsWith('hearth-node.'))) {
    const d = join(MEMORY_ROOT, node, `pod${uid}`);
    if (existsSync(d)) walk(d);
  }
  return pids;
}

function procFile(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`).toString('latin1');
  } catch {
    return '';
  }
}

const statusOf = (p: PodObject, name: string): ContainerStatusView | undefined =>
  [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])].find((s) => s.name === name);

interface Inspection {
  dir: string;
  /** Files in the pod directory holding a needle. */
  files: string[];
  /** pid → which needles its environ or command line holds. */
  processes: Record<number, string[]>;
  taskFiles: string[];
  optFiles: string[];
  agentPid: number;
  runtimePid: number;
  runtimeEnviron: string[];
  /** Mount points of the agent and runtime that are a ServiceAccount token's. */
  tokenMounts: string[];
}

/** What the node holds of pod p: its directory (every volume) and every process of its cgroup, searched for the needles. */
function inspect(p: PodObject, needles: string[]): Inspection {
  const dir = podDir(p.metadata.uid);
  const agentPid = containerPid(statusOf(p, 'agent'));
  const runtimePid = containerPid(statusOf(p, 'runtime'));
  if (agentPid === undefined || runtimePid === undefined) throw new Error(`${p.metadata.name}: agent or runtime not running (${JSON.stringify(p.status.initContainerStatuses)} ${JSON.stringify(p.status.containerStatuses)})`);
  const processes: Record<number, string[]> = {};
  for (const pid of new Set([agentPid, runtimePid, ...cgroupPids(p.metadata.uid)])) {
    const seen = procFile(pid, 'environ') + procFile(pid, 'cmdline');
    processes[pid] = needles.filter((n) => seen.includes(n));
  }
  const list = (v: string): string[] => (existsSync(join(dir, 'volumes', v)) ? readdirSync(join(dir, 'volumes', v)) : [`(no volume ${v})`]);
  const tokenMounts = [agentPid, runtimePid].flatMap((pid) =>
    procFile(pid, 'mountinfo').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.includes('serviceaccount')),
  );
  return {
    dir,
    files: filesHolding(dir, needles),
    processes,
    taskFiles: list('task'),
    optFiles: list('opt'),
    agentPid,
    runtimePid,
    runtimeEnviron: procFile(runtimePid, 'environ').split('\0'),
    tokenMounts,
  };
}

/** kubectl's table as rows of column → cell (no cell here holds a space). */
function table(out: string): Record<string, string>[] {
  const [head = '', ...rows] = out.trimEnd().split('\n');
  const cols = head.trim().split(/\s+/);
  return rows.map((r) => Object.fromEntries(r.trim().split(/\s+/).map((cell, i) => [cols[i] ?? `#${i}`, cell])));
}

interface WarmPoolView {
  spec: { minSize: number; maxSize: number };
  status?: { desiredSize?: number; readyPods?: number; claims?: number };
}

describe.runIf(inject('e2e') !== undefined).sequential('warm pools (process-node cluster)', () => {
  const history = new PodHistory();
  /** Uids of the idle pods inspected before F's first call, and what they held. */
  const inspected = new Map<string, Inspection>();
  let fPod: PodObject | undefined;
  let gPod: PodObject | undefined;

  beforeAll(async () => {
    await ensureRelease();
    await history.start();
    await until(`the chart's WarmPool ${POOL} with a Ready idle pod`, async () => ((await readyIdle(POOL)).length > 0 ? true : undefined), 240_000, 1_000);
  }, 400_000);

  afterAll(async () => {
    await history.stop();
    // Their pods would only take the machine from the files after this one.
    for (const fn of [F, G, ROLE_FN, MEM_FN]) await kubectl('delete', 'function', '--namespace', NS, fn, '--wait=false', '--ignore-not-found');
    await kubectl('delete', 'serviceaccount', '--namespace', NS, ROLE, '--ignore-not-found');
  }, 60_000);

  it('an idle pool pod holds no function code, env value, secret or token (pod directory, volumes, every process\'s environ); the claim by a call from zero puts the code in that same pod', async () => {
    await applyReporter(F, MARKER);
    // The Function exists (its code is in the cluster) before the pool pods are looked at: still none of it may be in them.
    await until(`${F} accepted by the controller`, async () => {
      const fn = await api().get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/functions/${F}`);
      return fn.status?.conditions?.some((c) => c.type === 'Ready') === true ? true : undefined;
    }, 60_000);
    const key = await apiKey();
    const needles = [MARKER, key];

    const idle = await readyIdle(POOL);
    expect(idle.length).toBeGreaterThan(0);
    for (const p of idle) {
      const name = p.metadata.name;
      expect(p.metadata.labels?.[LABEL_POOL_RUNTIME], name).toBe(POOL);
      expect(p.metadata.labels?.[LABEL_CLAIMED], name).toBeUndefined();
      // No token, no Secret, no ConfigMap: every volume is an emptyDir, and no variable comes from elsewhere.
      expect(p.spec.automountServiceAccountToken, name).toBe(false);
      expect(p.spec.serviceAccountName, name).not.toBe('default');
      expect(p.spec.volumes?.filter((v) => v.emptyDir === undefined).map((v) => v.name), name).toEqual([]);
      // Where the claim's line (the function's environment) will be kept: in memory on a kubelet, never on its disk.
      expect(p.spec.volumes?.find((v) => v.name === 'specialize')?.emptyDir, name).toMatchObject({ medium: 'Memory' });
      for (const c of [...(p.spec.initContainers ?? []), ...p.spec.containers]) {
        expect(c.envFrom ?? [], `${name}/${c.name} envFrom`).toEqual([]);
        expect((c.env ?? []).filter((e) => e.valueFrom !== undefined).map((e) => e.name), `${name}/${c.name} valueFrom`).toEqual([]);
      }

      const seen = inspect(p, needles);
      inspected.set(p.metadata.uid, seen);
      console.log(`[pools] idle ${name}: ${regularFiles(seen.dir).length} files in ${seen.dir}, processes ${Object.keys(seen.processes).join(' ')}`);
      expect(seen.files, `${name}: files holding F's code or env, or the gateway's API key`).toEqual([]);
      expect(Object.entries(seen.processes).filter(([, found]) => found.length > 0), `${name}: processes whose environ holds a marker`).toEqual([]);
      expect(seen.taskFiles, `${name}: the task root is empty`).toEqual([]);
      expect(seen.optFiles, `${name}: /opt is empty`).toEqual([]);
      expect(seen.tokenMounts, `${name}: no ServiceAccount token mounted`).toEqual([]);
      // The environ read is the waiting runtime's own: generic, told only to wait for its specialisation.
      expect(seen.runtimeEnviron).toContain('HEARTH_SPECIALIZE=stdin');
      expect(seen.runtimeEnviron.filter((e) => e.startsWith('AWS_LAMBDA_FUNCTION_NAME=') || e.startsWith('_HANDLER=') || e.startsWith('POOL_MARKER='))).toEqual([]);
    }

    const before = await gatewayMetricSum('hearth_instance_starts_total', { function: F, path: 'pool' });
    const answer = await call(F);
    expect(answer).toMatchObject({ marker: CODE_MARKER, env: ENV_MARKER, function: F });
    fPod = await servingPod(answer.host);
    const seenBefore = inspected.get(fPod.metadata.uid);
    expect(seenBefore, `F answered from ${answer.host}, one of the idle pods inspected (${idle.map((p) => p.metadata.name).join(', ')})`).toBeDefined();
    expect(await gatewayMetricSum('hearth_instance_starts_total', { function: F, path: 'pool' })).toBe(before + 1);

    // The same pod, looked at the same way, now holds F's code and configuration: the inspection above would have seen them.
    const after = inspect(fPod, needles);
    console.log(`[pools] claimed ${fPod.metadata.name}: files holding the marker: ${after.files.join(', ')}`);
    expect(after.taskFiles).toContain('lambda_function.py');
    expect(after.files.some((f) => f.endsWith('/volumes/task/lambda_function.py'))).toBe(true);
    const envFiles = after.files.filter((f) => readFileSync(f, 'utf8').includes(ENV_MARKER));
    expect(envFiles.length).toBeGreaterThan(0);
    // The saved environment is for the pod's own user alone.
    expect(envFiles.map((f) => [f, statSync(f).mode & 0o777])).toEqual(envFiles.map((f) => [f, 0o600]));
    // Specialised in place: the runtime process that waited is the one that now serves.
    expect(after.runtimePid).toBe(seenBefore?.runtimePid);
    expect(after.agentPid).toBe(seenBefore?.agentPid);
    // The gateway's API key never reaches a function's pod either.
    expect(after.files.filter((f) => readFileSync(f).toString('latin1').includes(key))).toEqual([]);
  }, 300_000);

  it('a claimed pod carries its function\'s labels, refuses a second specialisation (409), and a second function claims another pod', async () => {
    const f = fPod;
    if (f === undefined) throw new Error('F was not claimed (test 1 failed)');
    const p = (await getPod(f.metadata.name)) ?? f;
    const labels = p.metadata.labels ?? {};
    expect(labels).toMatchObject({ [LABEL_CLAIMED]: 'true', [LABEL_CLAIMED_FROM]: POOL, 'hearth.dev/function': F, 'app.kubernetes.io/managed-by': 'hearth' });
    expect(labels[LABEL_POOL]).toBeUndefined();
    expect(p.metadata.annotations?.[ANNOTATION_SPEC_HASH]).toMatch(/\S/);
    expect(p.metadata.annotations?.[ANNOTATION_SPEC_HASH]).not.toBe('failed');
    // Once the pool's ReplicaSet let it go, the controller makes F its owner, so deleting F deletes it.
    const owner = await until(`${f.metadata.name} owned by Function ${F}`, async () => {
      const o = (await getPod(f.metadata.name))?.metadata.ownerReferences?.find((r) => r.controller === true);
      return o?.kind === 'Function' ? o : undefined;
    }, 60_000, 500);
    expect(owner.name).toBe(F);

    // Straight to its agent, as a gateway would: it already serves F, so it takes nothing else.
    const second = SpecializationSchema.parse({
      unit: G, functionName: G, version: '$LATEST', memoryMB: 128, timeoutSeconds: 30, concurrency: 1,
      env: { POOL_MARKER: 'not-f' },
      files: { 'lambda_function.py': Buffer.from(reporter('not-f')).toString('base64') },
    });
    const res = await fetch(`http://${p.status.podIP ?? ''}:9000${SPECIALIZE_PATH}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(second), signal: AbortSignal.timeout(10_000),
    });
    expect(res.status, await res.text()).toBe(409);
    const again = await call(F);
    expect([again.host, again.marker, again.env]).toEqual([f.metadata.name, CODE_MARKER, ENV_MARKER]);

    await until('an idle pool pod Ready again for G', async () => ((await readyIdle(POOL)).length > 0 ? true : undefined), 180_000, 1_000);
    await applyReporter(G, `${MARKER}-g`);
    const g = await until(`${G} answering`, async () => call(G), 120_000, 1_000);
    expect(g.function).toBe(G);
    expect(g.host).not.toBe(f.metadata.name);
    gPod = await servingPod(g.host);
    expect(gPod.metadata.labels).toMatchObject({ [LABEL_CLAIMED]: 'true', [LABEL_CLAIMED_FROM]: POOL, 'hearth.dev/function': G });
    expect(gPod.metadata.labels?.[LABEL_POOL]).toBeUndefined();
    // And F still answers from its own pod alone.
    expect((await call(F)).host).toBe(f.metadata.name);
  }, 400_000);

  it('the pool refills to its desired size; kubectl get warmpools shows the pools with their columns', async () => {
    const state = await until(`Ready idle pods of ${POOL} back at its desired size`, async () => {
      const wp = await api().get<WarmPoolView>(`/apis/hearth.dev/v1alpha1/namespaces/${NS}/warmpools/${POOL}`);
      const dep = await api().get<{ spec: { replicas?: number } }>(`/apis/apps/v1/namespaces/${NS}/deployments/pool-${POOL}`);
      const ready = (await readyIdle(POOL)).length;
      const all = (await listPods(`${LABEL_POOL}=${POOL}`)).filter((p) => p.metadata.deletionTimestamp === undefined).length;
      const desired = wp.status?.desiredSize;
      return desired !== undefined && ready === desired && all === desired && dep.spec.replicas === desired && wp.status?.readyPods === desired ? { wp, ready } : undefined;
    }, 180_000, 1_000);
    expect(state.ready).toBeGreaterThanOrEqual(state.wp.spec.minSize);
    expect(state.ready).toBeLessThanOrEqual(state.wp.spec.maxSize);
    // At least F's and G's claims since the controller's leader started.
    expect(state.wp.status?.claims ?? 0).toBeGreaterThanOrEqual(2);

    const rows = table(await kubectl('get', 'warmpools', '--namespace', NS));
    console.log(`[pools] kubectl get warmpools:\n${JSON.stringify(rows)}`);
    expect(Object.keys(rows[0] ?? {})).toEqual(['NAME', 'RUNTIME', 'DESIRED', 'READY', 'CLAIMS', 'PER-MINUTE', 'AGE']);
    expect(rows.map((r) => [r.NAME, r.RUNTIME]).sort()).toEqual([['nodejs', 'nodejs'], ['python', 'python']]);
    const py = rows.find((r) => r.NAME === POOL);
    expect(Number(py?.READY)).toBeGreaterThanOrEqual(state.wp.spec.minSize);
    expect(Number(py?.CLAIMS)).toBeGreaterThanOrEqual(2);
    // The short name works too.
    expect(await kubectl('get', 'wp', '--namespace', NS, '-o', 'name')).toContain(`warmpool.hearth.dev/${POOL}`);
  }, 240_000);

  it('claimed pods keep serving their functions through gateways that never saw the claims (every gateway pod replaced)', async () => {
    const f = fPod;
    const g = gPod;
    if (f === undefined || g === undefined) throw new Error('F or G was not claimed (tests 1 and 2 failed)');
    const selector = 'app.kubernetes.io/component=gateway';
    const old = (await listPods(selector)).filter((p) => p.metadata.deletionTimestamp === undefined);
    await Promise.all(old.map((p) => kubectl('delete', 'pod', '--namespace', NS, p.metadata.name, '--wait=false')));
    await until('only replacement gateway pods, all Ready', async () => {
      const all = await listPods(selector);
      return all.length >= old.length && all.every((p) => isReady(p) && !old.some((o) => o.metadata.uid === p.metadata.uid)) ? true : undefined;
    }, 180_000, 500);
    // Each answers from its claimed pod, which the new gateways learn of from the pod itself, not from a claim they made.
    for (const [fn, pod] of [[F, f], [G, g]] as const) {
      const a = await call(fn).catch(async (err: unknown) => {
        // Say what the pod's own agent answers the gateways' readiness poll, to tell a gateway's fault from the agent's.
        const r = await fetch(`http://${pod.status.podIP ?? ''}:9000/readyz`, { signal: AbortSignal.timeout(5_000) }).then(async (x) => `${x.status} ${await x.text()}`, (e: unknown) => String(e));
        throw new Error(`${String(err)}; ${pod.metadata.name}'s agent answers /readyz: ${r}`);
      });
      expect([fn, a.host, a.function]).toEqual([fn, pod.metadata.name, fn]);
    }
  }, 300_000);

  it('once F scales to zero its claimed pod is deleted, and no claimed pod ever went back to the pool', async () => {
    const f = fPod;
    if (f === undefined) throw new Error('F was not claimed (test 1 failed)');
    // No grace any more: the autoscaler takes F to zero once its stable window is idle.
    await applyReporter(F, MARKER, {}, 0);
    await until(`${f.metadata.name} deleted`, async () => {
      const p = await getPod(f.metadata.name);
      return p === undefined || p.metadata.uid !== f.metadata.uid ? true : undefined;
    }, 180_000, 500);
    await until('the watch saw the deletion', async () => (history.of(f.metadata.uid).some((e) => e.type === 'DELETED') ? true : undefined), 30_000, 250);

    for (const pod of [f, gPod]) {
      if (pod === undefined) continue;
      const seen = history.of(pod.metadata.uid);
      const claimedAt = seen.findIndex((e) => e.labels[LABEL_CLAIMED] === 'true');
      expect(claimedAt, `${pod.metadata.name}: the watch saw its claim`).toBeGreaterThanOrEqual(0);
      const afterClaim = seen.slice(claimedAt);
      expect(afterClaim.filter((e) => e.labels[LABEL_POOL] !== undefined), `${pod.metadata.name}: back in a pool after its claim`).toEqual([]);
      const fn = pod.metadata.labels?.['hearth.dev/function'];
      expect([...new Set(afterClaim.map((e) => e.labels['hearth.dev/function']))], `${pod.metadata.name}: served one function`).toEqual([fn]);
    }
    // No pool pod today is F's old one.
    expect((await listPods(LABEL_POOL)).map((p) => p.metadata.uid)).not.toContain(f.metadata.uid);
  }, 240_000);

  it('functions a pool cannot serve (their own ServiceAccount; another memory size) start a new pod of their own from zero and answer', async () => {
    await kubectl('create', 'serviceaccount', '--namespace', NS, ROLE);
    await applyReporter(ROLE_FN, `${MARKER}-role`, { serviceAccountName: ROLE });
    await applyReporter(MEM_FN, `${MARKER}-mem`, { memoryMB: 256 });
    for (const [fn, check] of [
      [ROLE_FN, (p: PodObject) => expect(p.spec.serviceAccountName).toBe(ROLE)],
      [MEM_FN, (p: PodObject) => expect(p.spec.containers.find((c) => c.name === 'runtime')?.resources?.limits?.memory).toBe('256Mi')],
    ] as const) {
      const claimsBefore = await gatewayMetricSum('hearth_pool_claims_total', {});
      const a = await until(`${fn} answering`, async () => call(fn), 180_000, 1_000);
      expect([a.function, a.env]).toEqual([fn, `${MARKER}-${fn === ROLE_FN ? 'role' : 'mem'}-env`]);
      const p = await servingPod(a.host);
      expect(p.metadata.labels?.[LABEL_CLAIMED], `${fn} from ${p.metadata.name}`).toBeUndefined();
      expect(p.metadata.labels?.[LABEL_CLAIMED_FROM]).toBeUndefined();
      expect(p.metadata.labels?.[LABEL_POOL_RUNTIME]).toBeUndefined();
      expect(p.metadata.ownerReferences?.find((o) => o.controller === true)?.kind).toBe('ReplicaSet');
      check(p);
      expect(await gatewayMetricSum('hearth_instance_starts_total', { function: fn, path: 'pod' })).toBeGreaterThanOrEqual(1);
      expect(await gatewayMetricSum('hearth_instance_starts_total', { function: fn, path: 'pool' })).toBe(0);
      // Nothing was claimed for it.
      expect(await gatewayMetricSum('hearth_pool_claims_total', {})).toBe(claimsBefore);
      // The same environ read that found no marker in the pool pods finds this pod's literal env value.
      const seen = inspect(p, [`${MARKER}-`]);
      expect(seen.runtimeEnviron.filter((e) => e.startsWith('POOL_MARKER='))).toEqual([`POOL_MARKER=${a.env ?? ''}`]);
      expect(Object.values(seen.processes).some((found) => found.length > 0)).toBe(true);
    }
  }, 480_000);
});
