// The process node: registers a Node with a pod CIDR, keeps its Lease and
// Ready condition fresh (so the node lifecycle controller lifts the
// not-ready taint and never evicts), and runs every pod bound to it.
// stop() leaves nothing behind, even mid-churn: no pod is started once it
// began, a termination under way is cut to the stop's short grace and waited
// for, and whatever a teardown still missed is swept and named.
import type { V1Pod, V1PodList } from '@kubernetes/client-node';
import { readdir, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killTree } from '../../../src/sandbox/memory-cgroup.js';
import { KubeError, type KubeRest } from './kube-rest.js';
import { checkoutMountPoint } from './images.js';
import { Ipam, setupBridge } from './network.js';
import { PodWorker, type NodeDeps } from './pod-worker.js';

export interface NodeAgentOptions extends Omit<NodeDeps, 'ipam' | 'createdTargets'> {
  capacity: { cpu: string; memory: string; pods: string };
  heartbeatSeconds: number;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function microNow(): string {
  return new Date().toISOString().replace(/Z$/, '000Z');
}

/** The grace every pod gets when the node itself stops (the cluster is going away). */
export const NODE_STOP_GRACE_SECONDS = 2;

export class NodeAgent {
  private readonly workers = new Map<string, PodWorker>();
  /** One termination per pod, however many times it is asked for; the worker leaves the map when it settles. */
  private readonly finishing = new Map<string, Promise<void>>();
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly deps: NodeDeps;
  private loops: Promise<void>[] = [];

  constructor(private readonly opts: NodeAgentOptions) {
    this.deps = { ...opts, ipam: new Ipam(opts.net.podCidr), createdTargets: new Set() };
  }

  private get kube(): KubeRest {
    return this.opts.kube;
  }

  private nodeStatus(): object {
    const t = now();
    const cond = (type: string, status: string, reason: string) => ({ type, status, reason, lastHeartbeatTime: t, lastTransitionTime: t });
    return {
      capacity: this.opts.capacity,
      allocatable: this.opts.capacity,
      addresses: [
        { type: 'InternalIP', address: this.opts.nodeIp },
        { type: 'Hostname', address: this.opts.nodeName },
      ],
      conditions: [
        cond('Ready', 'True', 'KubeletReady'),
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'v1.33.5',
        kubeProxyVersion: 'v1.33.5',
        containerRuntimeVersion: 'hearth-process://0.1.0',
        osImage: 'Hearth process node',
        kernelVersion: '',
        machineID: '',
        systemUUID: '',
        bootID: '',
      },
    };
  }

  async register(): Promise<void> {
    const name = this.opts.nodeName;
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'hearth.dev/process-node': 'true' },
      },
      spec: { podCIDR: this.opts.net.podCidr, podCIDRs: [this.opts.net.podCidr] },
    };
    try {
      await this.kube.call('POST', '/api/v1/nodes', node);
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
    }
    await this.kube.mergePatch(`/api/v1/nodes/${name}/status`, { status: this.nodeStatus() });
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: 'kube-node-lease' },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microNow() },
    };
    try {
      await this.kube.call('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases', lease);
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
    }
  }

  async start(): Promise<void> {
    await setupBridge(this.opts.net);
    await this.register();
    this.loops.push(this.heartbeatLoop(), this.podLoop());
  }

  private async heartbeatLoop(): Promise<void> {
    const name = this.opts.nodeName;
    while (!this.abort.signal.aborted) {
      await sleep(this.opts.heartbeatSeconds * 1000, undefined, { signal: this.abort.signal }).catch(() => undefined);
      if (this.abort.signal.aborted) return;
      try {
        await this.kube.mergePatch(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${name}`, { spec: { renewTime: microNow() } });
        await this.kube.mergePatch(`/api/v1/nodes/${name}/status`, { status: { conditions: (this.nodeStatus() as { conditions: object[] }).conditions } });
      } catch (err) {
        this.opts.log(`heartbeat failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private handle(pod: V1Pod, deleted: boolean): void {
    // A list or watch event that lands after stop() began must not start a pod nobody would stop.
    const uid = pod.metadata?.uid ?? '';
    const existing = this.workers.get(uid);
    if (this.stopping) {
      if (existing === undefined && !deleted && pod.metadata?.deletionTimestamp === undefined) this.opts.log(`stopping: not starting pod ${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`);
      return;
    }
    if (deleted) {
      if (existing !== undefined) void this.finish(uid, existing, 0, false);
      return;
    }
    if (pod.metadata?.deletionTimestamp !== undefined) {
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
      if (existing !== undefined) void this.finish(uid, existing, grace, true);
      else void this.kube.call('DELETE', `/api/v1/namespaces/${pod.metadata.namespace ?? ''}/pods/${pod.metadata.name ?? ''}`, { gracePeriodSeconds: 0, preconditions: { uid } }).catch(() => undefined);
      return;
    }
    if (existing !== undefined) {
      existing.update(pod);
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    const worker = new PodWorker(pod, this.deps);
    this.workers.set(uid, worker);
    worker.start();
  }

  /**
   * Terminates the pod once: a later call (a force delete, the node
   * stopping) shortens the termination under way and shares its end, and the
   * worker stays in the map until then, so stop() waits for it.
   */
  private finish(uid: string, w: PodWorker, graceSeconds: number, deleteObject: boolean): Promise<void> {
    const termination = w.terminate(graceSeconds, deleteObject);
    let done = this.finishing.get(uid);
    if (done === undefined) {
      done = termination
        .catch((err: unknown) => {
          this.opts.log(`terminating pod ${uid} failed: ${err instanceof Error ? err.message : String(err)}`);
        })
        .finally(() => {
          this.workers.delete(uid);
          this.finishing.delete(uid);
        });
      this.finishing.set(uid, done);
    }
    return done;
  }

  /** List, then watch from that version; on any end or error, list again (bounded by the abort). */
  private async podLoop(): Promise<void> {
    const selector = encodeURIComponent(`spec.nodeName=${this.opts.nodeName}`);
    while (!this.abort.signal.aborted) {
      try {
        const list = await this.kube.get<V1PodList>(`/api/v1/pods?fieldSelector=${selector}`);
        for (const p of list.items) this.handle(p, false);
        const rv = list.metadata?.resourceVersion ?? '';
        await this.kube.watch<V1Pod>(`/api/v1/pods?fieldSelector=${selector}&resourceVersion=${rv}`, (e) => {
          if (e.type === 'ADDED' || e.type === 'MODIFIED') this.handle(e.object, false);
          else if (e.type === 'DELETED') this.handle(e.object, true);
        }, this.abort.signal);
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.opts.log(`pod watch: ${err instanceof Error ? err.message : String(err)}`);
        await sleep(1_000);
      }
    }
  }

  /**
   * Stops every pod (short grace: the cluster is going away; terminations
   * under way are cut to it), the loops, and undoes what it made on the
   * machine. Anything a pod's teardown missed is killed and removed here,
   * and named in the log as the teardown bug it is.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    while (this.workers.size > 0) {
      await Promise.all([...this.workers.entries()].map(([uid, w]) => this.finish(uid, w, NODE_STOP_GRACE_SECONDS, false)));
    }
    await Promise.allSettled(this.loops);
    if (this.opts.cgroupRoot !== undefined) {
      const { killed, removed } = await killTree(this.opts.cgroupRoot);
      if (killed.length > 0) this.opts.log(`stop: pod teardown left processes behind, killed now: ${killed.join(', ')}`);
      if (!removed) this.opts.log(`stop: cgroup ${this.opts.cgroupRoot} could not be removed`);
    }
    // Containers share the machine's root, so a mount target (e.g. /var/run/secrets/kubernetes.io/serviceaccount)
    // may hold bind mounts of another node's live containers, and removing it detaches them there
    // (Linux >= 3.18): while another process node runs on this machine, its targets stay.
    // This node's own checkout mount point is named for its run: no other node's container uses it, so it always goes.
    const others = (await readdir(dirname(this.opts.workDir)).catch(() => [] as string[])).filter((d) => d !== basename(this.opts.workDir));
    const own = checkoutMountPoint(this.opts.workDir);
    const kept: string[] = [];
    for (const t of this.deps.createdTargets) {
      if (others.length === 0 || t === own || t.startsWith(`${own}/`)) await rmTarget(t);
      else kept.push(t);
    }
    if (kept.length > 0) this.opts.log(`stop: mount targets kept while process node run(s) ${others.join(', ')} still use the machine: ${kept.join(', ')}`);
    const podsDir = join(this.opts.workDir, 'pods');
    const leftDirs = await readdir(podsDir).catch(() => []);
    if (leftDirs.length > 0) this.opts.log(`stop: pod teardown left pod directories behind, removed now: ${leftDirs.join(', ')}`);
    await rm(this.opts.workDir, { recursive: true, force: true });
    // The shared parent too, once no other node uses it.
    await rmdir(dirname(this.opts.workDir)).catch(() => undefined);
  }
}

/** Removes a mount target the node created: empty directories and empty placeholder files only. */
async function rmTarget(path: string): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) return;
  if (!st.isDirectory()) {
    if (st.size === 0) await rm(path, { force: true });
    return;
  }
  for (const e of await readdir(path)) await rmTarget(join(path, e));
  await rmdir(path).catch(() => undefined);
}
