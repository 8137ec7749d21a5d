// One pod on the process node, as the kubelet's pod worker runs it: sandbox
// (network namespace and IP), volumes, init containers in order (native
// sidecars started and left running), then the app containers in order (each
// after the one before has run its postStart hook); status
// written back after every change; graceful deletion as the kubelet's
// killPod (termination.ts); teardown of everything the pod made.
import type { V1Pod, V1PodCondition, V1PodStatus, V1Volume } from '@kubernetes/client-node';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { killTree } from '../../../src/sandbox/memory-cgroup.js';
import { ContainerRunner, PLEG_EPOCH_MS, PLEG_RELIST_MS, startAppContainers, stopContainers, type PodContext } from './container.js';
import { Cutoff } from './termination.js';
import { checkoutMountPoint } from './images.js';
import { holderName } from '../leaks.js';
import { KubeError, type KubeRest } from './kube-rest.js';
import { createSandbox, destroySandbox, type Ipam, type PodNetworkConfig, type Sandbox } from './network.js';
import { VolumeBuilder, VolumeNotReady, materialize } from './volumes.js';
import type { ServiceEnv } from './env.js';

export interface NodeDeps {
  kube: KubeRest;
  nodeName: string;
  nodeIp: string;
  net: PodNetworkConfig;
  ipam: Ipam;
  workDir: string;
  logsDir: string;
  cgroupRoot: string | undefined;
  svc: ServiceEnv;
  clusterDns: string;
  clusterDomain: string;
  backoffBaseMs: number;
  createdTargets: Set<string>;
  /** The run this node belongs to (test/cluster/leaks.ts): named by every pod holder, so a leftover tells whose it is. */
  runId: string;
  log: (m: string) => void;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export class PodWorker {
  private sandbox: Sandbox | undefined;
  private podIp = '';
  private readonly startTime = now();
  /** The kubelet's AddPod: probe workers tick from here. */
  private readonly addedMs = Date.now();
  private initRunners: ContainerRunner[] = [];
  private mainRunners: ContainerRunner[] = [];
  private runs: Promise<void>[] = [];
  private initialized = false;
  private phase: Phase = 'Pending';
  private terminating = false;
  private termination: Promise<void> | undefined;
  private deleteObject = false;
  private readonly cutoff = new Cutoff();
  private gone = false;
  private syncing = false;
  private dirty = false;
  private volumesMessage: string | undefined;
  private readonly dir: string;
  private readonly logDir: string;
  private lifecycle: Promise<void> = Promise.resolve();

  constructor(
    private pod: V1Pod,
    private readonly deps: NodeDeps,
  ) {
    this.dir = join(deps.workDir, 'pods', this.uid);
    this.logDir = join(deps.logsDir, `${pod.metadata?.namespace ?? ''}_${pod.metadata?.name ?? ''}_${this.uid}`);
  }

  get uid(): string {
    return this.pod.metadata?.uid ?? '';
  }

  private get key(): string {
    return `${this.pod.metadata?.namespace ?? ''}/${this.pod.metadata?.name ?? ''}`;
  }

  private log(m: string): void {
    this.deps.log(`pod ${this.key}: ${m}`);
  }

  update(pod: V1Pod): void {
    this.pod = pod;
  }

  start(): void {
    this.lifecycle = this.runLifecycle().catch((err: unknown) => {
      this.log(`lifecycle failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    });
  }

  private async runLifecycle(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await mkdir(this.logDir, { recursive: true });
    const spec = this.pod.spec ?? { containers: [] };
    const ip = this.deps.ipam.allocate();
    try {
      this.sandbox = await createSandbox(this.deps.net, ip, this.uid.replace(/-/g, '').slice(0, 10), this.pod.metadata?.name ?? 'pod', holderName(this.deps.runId, this.key));
    } catch (err) {
      this.deps.ipam.release(ip);
      throw err;
    }
    this.podIp = ip;
    if (this.deps.cgroupRoot !== undefined) {
      // The pause process in the pod's cgroup too, so the teardown check would see it survive.
      const podCg = join(this.deps.cgroupRoot, `pod${this.uid}`);
      await mkdir(podCg, { recursive: true });
      await writeFile(join(podCg, 'cgroup.procs'), String(this.sandbox.pid));
    }
    this.log(`sandbox pid ${this.sandbox.pid} ip ${ip}`);
    await this.writeNetworkFiles(ip);
    const facts = { pod: this.pod, podIp: ip, hostIp: this.deps.nodeIp };
    const builder = new VolumeBuilder(this.deps.kube, facts);
    const volumeDirs = await this.prepareVolumes(builder, spec.volumes ?? []);
    if (volumeDirs === undefined) return;
    const ctx: PodContext = {
      facts,
      sandbox: this.sandbox,
      podDir: this.dir,
      podLogsDir: this.logDir,
      volumeDirs,
      builder,
      svc: this.deps.svc,
      resolvConf: join(this.dir, 'resolv.conf'),
      hostsFile: join(this.dir, 'hosts'),
      cgroupRoot: this.deps.cgroupRoot === undefined ? undefined : join(this.deps.cgroupRoot, `pod${this.uid}`),
      checkoutMount: checkoutMountPoint(this.deps.workDir),
      createdTargets: this.deps.createdTargets,
      restartPolicy: (spec.restartPolicy ?? 'Always') as 'Always' | 'OnFailure' | 'Never',
      backoffBaseMs: this.deps.backoffBaseMs,
      probeEpochMs: this.addedMs,
      onChange: () => this.requestSync(),
      log: (m) => this.log(m),
      recordEvent: (fieldPath, type, reason, message) => this.recordEvent(fieldPath, type, reason, message),
    };
    this.initRunners = (spec.initContainers ?? []).map((c) => new ContainerRunner(c, c.restartPolicy === 'Always' ? 'sidecar' : 'init', ctx));
    this.mainRunners = spec.containers.map((c) => new ContainerRunner(c, 'main', ctx));
    for (const r of this.mainRunners) r.state = { waiting: { reason: 'PodInitializing' } };
    for (const r of this.initRunners) r.state = { waiting: { reason: 'PodInitializing' } };
    this.requestSync();

    for (const r of this.initRunners) {
      if (this.terminating) return;
      const done = r.run();
      this.runs.push(done);
      if (r.kind === 'sidecar') {
        await r.waitStarted();
        // The kubelet starts the next container in a later sync of the pod: a startup probe's result
        // triggers one at once, but a sidecar without one is seen running only at PLEG's next relist.
        if (r.spec.startupProbe === undefined) await sleep(PLEG_RELIST_MS - ((Date.now() - PLEG_EPOCH_MS) % PLEG_RELIST_MS));
        continue;
      }
      await done;
      if (r.done === undefined || r.done.exitCode !== 0) {
        if (!this.terminating) {
          this.phase = 'Failed';
          this.requestSync();
        }
        return;
      }
    }
    if (this.terminating) return;
    this.initialized = true;
    this.phase = 'Running';
    this.requestSync();
    const mains = await startAppContainers(this.mainRunners, () => this.terminating, (done) => this.runs.push(done));
    await Promise.all(mains);
    if (this.terminating) return;
    // Only restartPolicy Never/OnFailure get here: every app container ended for good.
    const failed = this.mainRunners.some((r) => (r.done?.exitCode ?? 1) !== 0);
    this.phase = failed ? 'Failed' : 'Succeeded';
    // The sidecars go too, in reverse order, each after its preStop hook.
    await this.stopContainers(spec.terminationGracePeriodSeconds ?? 30);
    this.requestSync();
  }

  private stopContainers(graceSeconds: number): Promise<void> {
    return stopContainers(this.pod.spec ?? { containers: [] }, [...this.mainRunners, ...this.initRunners], graceSeconds, this.cutoff);
  }

  /** An Event about this pod, as the kubelet's recorder writes it; best effort. */
  private recordEvent(fieldPath: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const ns = this.pod.metadata?.namespace ?? '';
    const name = this.pod.metadata?.name ?? '';
    const t = now();
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${name}.`, namespace: ns },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: ns, name, uid: this.uid, fieldPath },
      reason,
      message,
      type,
      source: { component: 'kubelet', host: this.deps.nodeName },
      reportingComponent: 'kubelet',
      reportingInstance: this.deps.nodeName,
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
    };
    this.deps.kube.call('POST', `/api/v1/namespaces/${ns}/events`, event).catch((err: unknown) => {
      this.log(`event ${reason} not recorded: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  private async writeNetworkFiles(ip: string): Promise<void> {
    const ns = this.pod.metadata?.namespace ?? 'default';
    const d = this.deps.clusterDomain;
    const policy = this.pod.spec?.dnsPolicy ?? 'ClusterFirst';
    const resolv =
      policy === 'Default'
        ? 'nameserver 127.0.0.1\n'
        : `search ${ns}.svc.${d} svc.${d} ${d}\nnameserver ${this.deps.clusterDns}\noptions ndots:5\n`;
    await writeFile(join(this.dir, 'resolv.conf'), resolv, { mode: 0o644 });
    const name = this.pod.metadata?.name ?? 'pod';
    await writeFile(join(this.dir, 'hostname'), `${name}\n`, { mode: 0o644 });
    await writeFile(join(this.dir, 'hosts'), `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip}\t${name}\n`, { mode: 0o644 });
  }

  /** Retries volumes whose ConfigMap or Secret is not there yet, as the kubelet does (FailedMount). */
  private async prepareVolumes(builder: VolumeBuilder, volumes: V1Volume[]): Promise<Map<string, string> | undefined> {
    const dirs = new Map<string, string>();
    for (let attempt = 0; !this.terminating; attempt++) {
      try {
        for (const v of volumes) {
          if (dirs.has(v.name)) continue;
          dirs.set(v.name, await materialize(builder, this.pod, v, join(this.dir, 'volumes', v.name)));
        }
        this.volumesMessage = undefined;
        return dirs;
      } catch (err) {
        if (!(err instanceof VolumeNotReady)) throw err;
        if (this.volumesMessage !== err.message) {
          this.volumesMessage = err.message;
          this.log(`FailedMount: ${err.message}`);
          this.requestSync();
        }
        await sleep(Math.min(500 * 2 ** attempt, 5_000));
      }
    }
    return undefined;
  }

  private conditions(): V1PodCondition[] {
    const t = now() as unknown as Date;
    const cond = (type: string, ok: boolean, reason?: string): V1PodCondition => ({ type, status: ok ? 'True' : 'False', lastTransitionTime: t, ...(reason === undefined || ok ? {} : { reason }) });
    const sidecarsReady = this.initRunners.filter((r) => r.kind === 'sidecar').every((r) => r.ready);
    const containersReady = this.initialized && this.mainRunners.length > 0 && this.mainRunners.every((r) => r.ready);
    const scheduled = this.pod.status?.conditions?.find((c) => c.type === 'PodScheduled') ?? cond('PodScheduled', true);
    const terminal = this.phase === 'Succeeded' || this.phase === 'Failed';
    return [
      cond('PodReadyToStartContainers', this.sandbox !== undefined && !terminal),
      cond('Initialized', this.initialized || this.initRunners.every((r) => r.kind === 'sidecar' ? r.started : r.done?.exitCode === 0), 'ContainersNotInitialized'),
      cond('Ready', containersReady && sidecarsReady && !terminal, 'ContainersNotReady'),
      cond('ContainersReady', containersReady && !terminal, 'ContainersNotReady'),
      scheduled,
    ];
  }

  /** Keeps lastTransitionTime of conditions whose status did not change. */
  private status(): V1PodStatus {
    const previous = new Map((this.pod.status?.conditions ?? []).map((c) => [c.type, c]));
    const conditions = this.conditions().map((c) => {
      const p = previous.get(c.type);
      return p !== undefined && p.status === c.status ? { ...c, lastTransitionTime: p.lastTransitionTime } : c;
    });
    const containerStatuses = this.mainRunners.length > 0
      ? this.mainRunners.map((r) => r.status())
      : (this.pod.spec?.containers ?? []).map((c) => ({
          name: c.name, image: c.image ?? '', imageID: '', ready: false, started: false, restartCount: 0,
          state: { waiting: { reason: 'ContainerCreating', ...(this.volumesMessage === undefined ? {} : { message: this.volumesMessage }) } },
        }));
    // Pending until some app container has run at all, as the kubelet computes it (e.g. an image that cannot be pulled).
    const neverRan = this.mainRunners.every((r) => r.state.waiting !== undefined && r.restartCount === 0 && r.lastState.terminated === undefined);
    const phase = this.phase === 'Running' && neverRan ? 'Pending' : this.phase;
    return {
      phase,
      conditions,
      hostIP: this.deps.nodeIp,
      hostIPs: [{ ip: this.deps.nodeIp }],
      ...(this.podIp === '' ? {} : { podIP: this.podIp, podIPs: [{ ip: this.podIp }] }),
      startTime: this.startTime as unknown as Date,
      initContainerStatuses: this.initRunners.map((r) => r.status()),
      containerStatuses,
    };
  }

  /** One status write at a time; changes during a write cause one more. */
  requestSync(): void {
    this.dirty = true;
    if (this.syncing || this.gone) return;
    this.syncing = true;
    void (async () => {
      try {
        while (this.dirty && !this.gone) {
          this.dirty = false;
          await sleep(20);
          const ns = this.pod.metadata?.namespace ?? '';
          const name = this.pod.metadata?.name ?? '';
          try {
            const updated = await this.deps.kube.mergePatch<V1Pod>(`/api/v1/namespaces/${ns}/pods/${name}/status`, { metadata: { uid: this.uid }, status: this.status() });
            this.pod = { ...this.pod, status: updated.status };
          } catch (err) {
            if (err instanceof KubeError && (err.status === 404 || err.status === 409)) {
              if (err.status === 404) this.gone = true;
            } else {
              this.log(`status update failed: ${err instanceof Error ? err.message : String(err)}`);
              this.dirty = true;
              await sleep(1_000);
            }
          }
        }
      } finally {
        this.syncing = false;
      }
    })();
  }

  /**
   * Graceful deletion: the containers stop as stopContainers says, within
   * the grace period; then the sandbox goes and the pod object is removed
   * (the kubelet's final delete with grace 0). Asked again while under way
   * (a force delete, the node stopping), the same termination is returned,
   * cut to the new grace if that is shorter.
   */
  terminate(graceSeconds: number, deleteObject: boolean): Promise<void> {
    this.deleteObject ||= deleteObject;
    if (this.termination !== undefined) {
      this.cutoff.bringForward(Date.now() + graceSeconds * 1000);
      return this.termination;
    }
    this.terminating = true;
    this.termination = this.terminateOnce(graceSeconds);
    return this.termination;
  }

  private async terminateOnce(graceSeconds: number): Promise<void> {
    await this.stopContainers(graceSeconds);
    await Promise.allSettled(this.runs);
    // A lifecycle still setting up (sandbox, volumes) sees `terminating` and starts nothing more;
    // what it had started by then is stopped by the second pass (the first pass's are remembered).
    await this.lifecycle;
    await this.stopContainers(graceSeconds);
    await Promise.allSettled(this.runs);
    await this.teardown();
    this.requestSync();
    if (this.deleteObject) {
      const ns = this.pod.metadata?.namespace ?? '';
      const name = this.pod.metadata?.name ?? '';
      try {
        await this.deps.kube.call('DELETE', `/api/v1/namespaces/${ns}/pods/${name}`, { gracePeriodSeconds: 0, preconditions: { uid: this.uid } });
      } catch (err) {
        if (!(err instanceof KubeError && (err.status === 404 || err.status === 409))) throw err;
      }
    }
    this.gone = true;
  }

  /** Tried three times; the node's own stop sweeps what still remains after that. */
  private async teardown(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.teardownOnce();
        return;
      } catch (err) {
        if (attempt >= 3) throw err;
        this.log(`${err instanceof Error ? err.message : String(err)}; retrying`);
        await sleep(500);
      }
    }
  }

  /** Every step is tried even if one before failed; the failures are thrown after. */
  private async teardownOnce(): Promise<void> {
    const failures: string[] = [];
    const step = async (what: string, f: () => Promise<void>): Promise<void> => {
      try {
        await f();
      } catch (err) {
        failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    const sandbox = this.sandbox;
    if (sandbox !== undefined) {
      await step('sandbox', async () => {
        await destroySandbox(sandbox);
        this.deps.ipam.release(sandbox.ip);
        this.sandbox = undefined;
      });
    }
    const cgroupRoot = this.deps.cgroupRoot;
    if (cgroupRoot !== undefined) {
      await step('cgroup', async () => {
        // The containers have exited and the holder is gone; anything still here escaped them (a stray child).
        const { killed, removed } = await killTree(join(cgroupRoot, `pod${this.uid}`));
        if (killed.length > 0) this.log(`killed processes left in the pod's cgroup: ${killed.join(', ')}`);
        if (!removed) throw new Error(`cgroup pod${this.uid} could not be removed`);
      });
    }
    await step('pod directory', () => rm(this.dir, { recursive: true, force: true }));
    if (failures.length > 0) throw new Error(`teardown incomplete: ${failures.join('; ')}`);
  }
}
