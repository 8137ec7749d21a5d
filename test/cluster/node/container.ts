// One container of a pod on the process node: start, probes, exit, restart
// with CrashLoopBackOff back-off, the state the pod's status reports, and
// stopping it as the kubelet does (preStop hook, SIGTERM, SIGKILL).
import type { V1Container, V1ContainerState, V1ContainerStateTerminated, V1ContainerStatus, V1LifecycleHandler, V1PodSpec, V1Probe } from '@kubernetes/client-node';
import type { ChildProcess } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryCgroup, memoryCgroupAvailable, parseQuantity } from '../../../src/sandbox/memory-cgroup.js';
import { ConfigError, containerArgv, containerEnv, runcHome, type ServiceEnv } from './env.js';
import type { PodFacts } from './downward.js';
import { inContainer, lookupImage, repoRoot, resolveProgram, toCheckoutPath, type ImageEntry } from './images.js';
import { launch } from './launch.js';
import { childExit, type ContainerMount } from '../../../src/sandbox/bwrap-args.js';
import { SETPRIV } from '../../../src/sandbox/support.js';
import { describeHandler, runLifecycleHandler } from './hooks.js';
import { nextProbeTick, runProbe, type ProbeTarget } from './probes.js';
import { Cutoff, MIN_KILL_GRACE_SECONDS, graceLeft, killGraceSeconds, sigtermGrace, terminationPrereqs, within, type KillReason } from './termination.js';
import type { Sandbox } from './network.js';
import type { VolumeBuilder } from './volumes.js';

export type ContainerKind = 'init' | 'sidecar' | 'main';

export interface PodContext {
  facts: PodFacts;
  sandbox: Sandbox;
  podDir: string;
  /** Where container output goes, kept after the pod (like /var/log/pods). */
  podLogsDir: string;
  /** volume name → directory on the node */
  volumeDirs: Map<string, string>;
  builder: VolumeBuilder;
  svc: ServiceEnv;
  resolvConf: string;
  hostsFile: string;
  cgroupRoot: string | undefined;
  /** Where this node's containers see the checkout (checkoutMountPoint). */
  checkoutMount: string;
  /** Mount targets the node had to create on the machine (removed when the node stops). */
  createdTargets: Set<string>;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  backoffBaseMs: number;
  /** When the node took the pod on (the kubelet's AddPod): startup and liveness probes tick every period from here (nextProbeTick). */
  probeEpochMs: number;
  onChange: () => void;
  log: (m: string) => void;
  /** An Event about this pod (the kubelet's recorder), e.g. FailedPreStopHook. */
  recordEvent: (fieldPath: string, type: 'Normal' | 'Warning', reason: string, message: string) => void;
}

/** How a pod's termination asks a container to stop. */
export interface StopRequest {
  /** The pod's grace period (deletion grace, else terminationGracePeriodSeconds). */
  graceSeconds: number;
  /** A native sidecar's turn: resolves once the containers it must outlive have exited. */
  turn?: Promise<unknown>;
  /** Brought forward when the pod is asked to stop again with a shorter grace. */
  cutoff: Cutoff;
}

const BACKOFF_MAX_MS = 300_000;
export const PLEG_RELIST_MS = 1_000;
/** PLEG relists on one node-wide timer, started with the node: its phase is no pod's. */
export const PLEG_EPOCH_MS = Date.now();

/**
 * A signal for the container's main process, not bwrap (bwrap passes none
 * on, and its death would take the container down without the signal asked
 * for). Only while bwrap runs: once it has exited, the pid may be anyone's.
 */
function signalContainer(r: Running, signal: NodeJS.Signals): void {
  if (r.child.exitCode !== null || r.child.signalCode !== null) return;
  try {
    process.kill(r.pid, signal);
  } catch {
    // gone between the check and the kill: bwrap is exiting
  }
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

interface Running {
  child: ChildProcess;
  pid: number;
  startedAt: string;
  cgroup: MemoryCgroup | undefined;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  uid: number;
  gid: number;
  env: Record<string, string>;
  /** This instance's preStop hook, run at most once (a liveness kill and the pod's deletion may both ask). */
  preStop?: Promise<void>;
}

export class ContainerRunner {
  state: V1ContainerState = { waiting: { reason: 'ContainerCreating' } };
  lastState: V1ContainerState = {};
  restartCount = 0;
  ready = false;
  started = false;
  /** Set once an init container has completed, or any container ended for good. */
  done: V1ContainerStateTerminated | undefined;
  private running: Running | undefined;
  /** Set while a start is under way: resolves once run() has recorded the started process (or the failure). */
  private starting: Promise<void> | undefined;
  private stopping = false;
  private termination: Promise<void> | undefined;
  private readonly image: ImageEntry | undefined;
  private wakeBackoff: (() => void) | undefined;
  private startedWaiters: (() => void)[] = [];
  private launchedWaiters: (() => void)[] = [];
  /** The current start is over: the process runs and its postStart hook has returned, or the start failed. */
  private launchedValue = false;

  constructor(
    readonly spec: V1Container,
    readonly kind: ContainerKind,
    private readonly ctx: PodContext,
  ) {
    this.image = lookupImage(spec.image ?? '');
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.running?.pid;
  }

  /** Running, or about to be: a pod's termination must wait for it. */
  get active(): boolean {
    return this.running !== undefined || this.starting !== undefined;
  }

  status(): V1ContainerStatus {
    return {
      name: this.spec.name,
      image: this.spec.image ?? '',
      imageID: this.image === undefined ? '' : `hearth-process://${this.image.repository}`,
      ...(this.running === undefined ? {} : { containerID: `process://${this.running.pid}` }),
      state: this.state,
      lastState: this.lastState,
      ready: this.ready,
      started: this.started,
      restartCount: this.restartCount,
    };
  }

  /** Resolves once a sidecar may be followed by the next container: started (startup probe passed). */
  waitStarted(): Promise<void> {
    if (this.started) return Promise.resolve();
    return new Promise((r) => this.startedWaiters.push(r));
  }

  /**
   * Resolves once the kubelet would go on to start the pod's next app
   * container: this one's start is over, its postStart hook included
   * (startContainer runs the hook before it returns), whether it worked or
   * not; or the container is stopping.
   */
  waitLaunched(): Promise<void> {
    if (this.launchedValue || this.stopping) return Promise.resolve();
    return new Promise((r) => this.launchedWaiters.push(r));
  }

  private setLaunched(): void {
    this.launchedValue = true;
    for (const w of this.launchedWaiters.splice(0)) w();
  }

  private setStarted(v: boolean): void {
    this.started = v;
    if (v) for (const w of this.startedWaiters.splice(0)) w();
  }

  private change(): void {
    this.ctx.onChange();
  }

  /** Runs the container until it is done for good (or the pod stops); returns its final exit. */
  async run(): Promise<void> {
    let crashes = 0;
    while (!this.stopping) {
      if (this.image === undefined) {
        await this.imagePullLoop();
        return;
      }
      let running: Running | undefined;
      let failure: unknown;
      // this.running is set before `starting` settles, so a termination that waited for the start finds the process.
      this.starting = this.start(this.image).then(
        (r) => {
          running = r;
          this.running = r;
        },
        (err: unknown) => {
          failure = err;
        },
      );
      await this.starting;
      this.starting = undefined;
      if (running === undefined) {
        const reason = failure instanceof ConfigError ? 'CreateContainerConfigError' : 'CreateContainerError';
        const message = failure instanceof Error ? failure.message : String(failure);
        this.state = { waiting: { reason, message } };
        this.ctx.log(`${this.name}: ${reason}: ${message}`);
        this.change();
        this.setLaunched();
        await this.backoff(2_000);
        continue;
      }
      this.state = { running: { startedAt: running.startedAt as unknown as Date } };
      this.ready = false;
      this.change();
      const postStart = this.spec.lifecycle?.postStart;
      const hookOk = postStart === undefined || (await this.runPostStart(running, postStart));
      this.setLaunched();
      this.setStarted(hookOk && this.spec.startupProbe === undefined);
      if (this.kind !== 'init') this.ready = this.spec.readinessProbe === undefined && this.started;
      this.change();
      // The kubelet kills a container whose postStart hook failed (preStop first) and restarts it as after any exit.
      if (!hookOk) void this.killRunning(running, killGraceSeconds(this.ctx.facts.pod, this.spec, 'postStart'), undefined, new Cutoff());
      const probes = this.kind === 'init' || !hookOk ? Promise.resolve() : this.runProbes(running);
      const exit = await running.exited;
      const oom = running.cgroup === undefined ? 0 : await running.cgroup.oomKills();
      await running.cgroup?.destroy();
      this.running = undefined;
      await probes;
      const { exitCode, signal } = childExit(exit.code, exit.signal);
      const reason = oom > 0 ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
      const terminated: V1ContainerStateTerminated = {
        exitCode,
        reason,
        startedAt: running.startedAt as unknown as Date,
        finishedAt: now() as unknown as Date,
        containerID: `process://${running.pid}`,
        ...(signal === undefined ? {} : { signal }),
      };
      this.state = { terminated };
      this.ready = false;
      this.setStartedFalse();
      this.ctx.log(`${this.name}: exited ${exitCode} (${reason})`);
      this.change();
      if (this.stopping) return;
      const restart = this.shouldRestart(exitCode);
      if (!restart) {
        this.done = terminated;
        this.change();
        return;
      }
      const delay = crashes === 0 ? 0 : Math.min(this.ctx.backoffBaseMs * 2 ** (crashes - 1), BACKOFF_MAX_MS);
      crashes++;
      this.lastState = { terminated };
      // The kubelet learns of the exit from PLEG's relist (every second), so even a first restart takes about that long.
      if (delay === 0) await this.backoff(PLEG_RELIST_MS);
      if (delay > 0) {
        this.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${this.name} pod=${this.ctx.facts.pod.metadata?.name ?? ''}` } };
        this.change();
        await this.backoff(delay);
      }
      if (this.stopping) return;
      this.restartCount++;
    }
  }

  private setStartedFalse(): void {
    this.started = false;
  }

  private shouldRestart(exitCode: number): boolean {
    if (this.kind === 'sidecar') return true;
    if (this.kind === 'init') return exitCode !== 0 && this.ctx.restartPolicy !== 'Never';
    if (this.ctx.restartPolicy === 'Always') return true;
    if (this.ctx.restartPolicy === 'OnFailure') return exitCode !== 0;
    return false;
  }

  private async imagePullLoop(): Promise<void> {
    const message = `image ${this.spec.image ?? ''} is not in the process node's image table (test/cluster/node/images.ts)`;
    this.state = { waiting: { reason: 'ErrImagePull', message } };
    this.change();
    await this.backoff(2_000);
    let delay = this.ctx.backoffBaseMs;
    while (!this.stopping) {
      this.state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${this.spec.image ?? ''}": ${message}` } };
      this.change();
      await this.backoff(delay);
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    }
  }

  private backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakeBackoff = done;
    });
  }

  private identity(image: ImageEntry): { uid: number; gid: number; groups: number[] } {
    const podSc = this.ctx.facts.pod.spec?.securityContext;
    const sc = this.spec.securityContext;
    const uid = sc?.runAsUser ?? podSc?.runAsUser ?? image.user?.uid ?? 0;
    const explicitUser = (sc?.runAsUser ?? podSc?.runAsUser) !== undefined;
    const gid = sc?.runAsGroup ?? podSc?.runAsGroup ?? (explicitUser ? 0 : (image.user?.gid ?? 0));
    const groups = [...(podSc?.fsGroup === undefined ? [] : [podSc.fsGroup]), ...(podSc?.supplementalGroups ?? [])];
    const nonRoot = sc?.runAsNonRoot ?? podSc?.runAsNonRoot ?? false;
    if (nonRoot && uid === 0) throw new ConfigError('container has runAsNonRoot and image will run as root');
    return { uid, gid, groups };
  }

  private async mounts(image: ImageEntry): Promise<ContainerMount[]> {
    // The image's files, taken from the checkout (images.ts), read-only as an image's layers are.
    await this.ensureTarget(this.ctx.checkoutMount, repoRoot);
    const out: ContainerMount[] = [{ source: repoRoot, target: this.ctx.checkoutMount, readOnly: true }];
    for (const [target, prepared] of Object.entries(image.imageDirs ?? {})) {
      const source = prepared();
      if (!existsSync(source)) throw new ConfigError(`image directory ${target} was not prepared at ${source} (test/cluster/prepare-go-image.sh)`);
      await this.ensureTarget(target, source);
      out.push({ source, target, readOnly: true });
    }
    for (const vm of this.spec.volumeMounts ?? []) {
      const dir = this.ctx.volumeDirs.get(vm.name);
      if (dir === undefined) throw new ConfigError(`volume ${vm.name} not found`);
      const source = vm.subPath === undefined || vm.subPath === '' ? dir : join(dir, vm.subPath);
      await this.ensureTarget(vm.mountPath, source);
      out.push({ source, target: vm.mountPath, readOnly: vm.readOnly ?? false });
    }
    out.push({ source: this.ctx.resolvConf, target: '/etc/resolv.conf', readOnly: true });
    out.push({ source: this.ctx.hostsFile, target: '/etc/hosts', readOnly: true });
    out.push({ source: join(this.ctx.podDir, 'hostname'), target: '/etc/hostname', readOnly: true });
    return out;
  }

  /** A bind mount needs its target to exist on the machine; create it, like a container runtime creates it in its rootfs. */
  private async ensureTarget(target: string, source: string): Promise<void> {
    if (existsSync(target)) return;
    let top = target;
    while (!existsSync(dirname(top))) top = dirname(top);
    const isDir = statSync(source).isDirectory();
    if (isDir) await mkdir(target, { recursive: true });
    else {
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, '');
    }
    this.ctx.createdTargets.add(top);
  }

  private async start(image: ImageEntry): Promise<Running> {
    const { facts, builder, svc } = this.ctx;
    const env = await containerEnv(this.spec, image, facts, builder, svc);
    const argv = resolveProgram(image, containerArgv(this.spec, image, env)).map((w) => inContainer(w, this.ctx.checkoutMount));
    if (argv.length === 0) throw new ConfigError('no command specified');
    const { uid, gid, groups } = this.identity(image);
    env.HOME ??= runcHome(uid, await readFile('/etc/passwd', 'utf8').catch(() => ''));
    const mounts = await this.mounts(image);
    const limit = parseQuantity(this.spec.resources?.limits?.memory as string | undefined);
    const cgroupPath = this.ctx.cgroupRoot === undefined ? undefined : join(this.ctx.cgroupRoot, this.name);
    const cgroup = cgroupPath !== undefined && memoryCgroupAvailable() ? await MemoryCgroup.create(cgroupPath, limit) : undefined;
    const sc = this.spec.securityContext;
    const machineWorkingDir = toCheckoutPath(image, this.spec.workingDir ?? image.workingDir ?? '/');
    const workingDir = inContainer(machineWorkingDir, this.ctx.checkoutMount);
    const dropPrivileges = uid !== 0 || (sc?.capabilities?.drop ?? []).includes('ALL');
    const { child, pid, exited } = await launch(
      {
        bwrap: 'bwrap',
        nsenter: 'nsenter',
        env: '/usr/bin/env',
        netns: this.ctx.sandbox.netnsPath,
        utsns: `/proc/${this.ctx.sandbox.pid}/ns/uts`,
        // bwrap makes its mount points before it enters the new root, where a link such as /var/run → /run would lead
        // outside it: each target as this machine resolves it (the container's root is this machine's).
        mounts: mounts.map((m) => ({ ...m, target: realpathSync(m.target) })),
        readOnlyRootFilesystem: sc?.readOnlyRootFilesystem ?? false,
        user: dropPrivileges ? { kind: 'switch', uid, gid, groups, setpriv: SETPRIV } : { kind: 'root' },
        workingDir: existsSync(machineWorkingDir) || mounts.some((m) => m.target === workingDir) ? workingDir : '/',
        environment: env,
        argv,
        ...(cgroup === undefined ? {} : { cgroupProcs: cgroup.procsFile }),
      },
      join(this.ctx.podLogsDir, `${this.name}.log`),
    );
    this.ctx.log(`${this.name}: started pid ${pid}: ${argv.join(' ')}`);
    return { child, pid, startedAt: now(), cgroup, exited, uid, gid, env };
  }

  private async runProbes(r: Running): Promise<void> {
    const alive = (): boolean => this.running === r && !this.stopping;
    const target = { podIp: this.ctx.facts.podIp, container: this.spec, pid: r.pid, uid: r.uid, gid: r.gid, env: r.env };
    const startedMs = Date.now();
    // ticked: startup and liveness probes run on their worker's ticks only; readiness right away, then every period.
    const loop = async (p: V1Probe, onResult: (ok: boolean, fails: number, oks: number) => boolean, ticked = false): Promise<void> => {
      const periodMs = (p.periodSeconds ?? 10) * 1000;
      const delayMs = (p.initialDelaySeconds ?? 0) * 1000;
      if (ticked) await this.sleepWhile(nextProbeTick(this.ctx.probeEpochMs, periodMs, Math.max(Date.now(), startedMs + delayMs)) - Date.now(), alive);
      else await this.sleepWhile(delayMs, alive);
      let fails = 0;
      let oks = 0;
      while (alive()) {
        const attemptMs = Date.now();
        const ok = await runProbe(p, target);
        if (!alive()) return;
        if (ok) {
          oks++;
          fails = 0;
        } else {
          fails++;
          oks = 0;
        }
        if (!onResult(ok, fails, oks)) return;
        // A tick that passed while the probe ran fires at once after it, as a Go ticker's buffered tick does.
        if (ticked) await this.sleepWhile(nextProbeTick(this.ctx.probeEpochMs, periodMs, attemptMs + 1) - Date.now(), alive);
        else await this.sleepWhile(periodMs, alive);
      }
    };
    const { startupProbe, livenessProbe, readinessProbe } = this.spec;
    if (startupProbe !== undefined) {
      await loop(startupProbe, (ok, fails) => {
        if (ok) {
          this.setStarted(true);
          if (readinessProbe === undefined) this.ready = true;
          this.change();
          return false;
        }
        if (fails >= (startupProbe.failureThreshold ?? 3)) {
          this.ctx.log(`${this.name}: startup probe failed ${fails} times; killing`);
          void this.killForRestart(r, 'startup');
          return false;
        }
        return true;
      }, true);
      if (!this.started || !alive()) return;
    }
    const tasks: Promise<void>[] = [];
    if (livenessProbe !== undefined) {
      tasks.push(
        loop(livenessProbe, (_ok, fails) => {
          if (fails >= (livenessProbe.failureThreshold ?? 3)) {
            this.ctx.log(`${this.name}: liveness probe failed ${fails} times; restarting`);
            void this.killForRestart(r, 'liveness');
            return false;
          }
          return true;
        }, true),
      );
    }
    if (readinessProbe !== undefined && this.kind !== 'init') {
      tasks.push(
        loop(readinessProbe, (ok, fails, oks) => {
          const before = this.ready;
          if (ok && oks >= (readinessProbe.successThreshold ?? 1)) this.ready = true;
          if (!ok && fails >= (readinessProbe.failureThreshold ?? 3)) this.ready = false;
          if (before !== this.ready) this.change();
          return true;
        }),
      );
    }
    await Promise.all(tasks);
  }

  private async sleepWhile(ms: number, cond: () => boolean): Promise<void> {
    const end = Date.now() + ms;
    while (cond() && Date.now() < end) await sleep(Math.min(100, end - Date.now()));
  }

  /** A failed liveness or startup probe: the container is killed (preStop first) and the run loop restarts it. */
  private async killForRestart(r: Running, reason: KillReason): Promise<void> {
    await this.killRunning(r, killGraceSeconds(this.ctx.facts.pod, this.spec, reason), undefined, new Cutoff());
  }

  /**
   * The kubelet's killContainer: the preStop hook within the grace period,
   * then (a sidecar) the wait for its turn within what is left, then SIGTERM
   * with what is left but at least 2 s, then SIGKILL. A cut-off brought
   * forward ends the waits at once and the SIGTERM grace after its 2 s.
   */
  private async killRunning(r: Running, graceSeconds: number, turn: Promise<unknown> | undefined, cutoff: Cutoff): Promise<void> {
    let grace = graceSeconds;
    const hook = this.spec.lifecycle?.preStop;
    if (hook !== undefined && grace > 0) {
      const began = Date.now();
      r.preStop ??= this.runPreStop(r, hook, grace * 1000, cutoff);
      await within(r.preStop, grace * 1000, cutoff);
      grace = graceLeft(grace, Date.now() - began);
    }
    if (turn !== undefined && grace > 0) {
      const began = Date.now();
      await within(turn, grace * 1000, cutoff);
      grace = graceLeft(grace, Date.now() - began);
    }
    const sigtermAt = Date.now();
    const killAt = new Cutoff();
    killAt.bringForward(sigtermAt + sigtermGrace(grace) * 1000);
    const follow = (at: number): void => killAt.bringForward(Math.max(at, sigtermAt + MIN_KILL_GRACE_SECONDS * 1000));
    follow(cutoff.at);
    const unfollow = cutoff.watch(follow);
    if (r.child.exitCode === null && r.child.signalCode === null) this.ctx.log(`${this.name}: SIGTERM (SIGKILL in ${((killAt.at - sigtermAt) / 1000).toFixed(1)} s)`);
    signalContainer(r, 'SIGTERM');
    try {
      const killed = killAt.reached().then(() => {
        if (r.child.exitCode !== null || r.child.signalCode !== null) return;
        this.ctx.log(`${this.name}: SIGKILL (grace period over)`);
        signalContainer(r, 'SIGKILL');
      });
      await Promise.race([r.exited, killed]);
      await r.exited;
    } finally {
      unfollow();
    }
  }

  /**
   * Runs the hook until it ends, the grace runs out, the cut-off passes or
   * the container exits (a hook cannot outlive its container, as an exec into
   * a gone container fails at once). A failure is logged and recorded as a
   * FailedPreStopHook Event without the message, as the kubelet does (it may
   * hold secrets); termination goes on either way.
   */
  private async runPreStop(r: Running, hook: V1LifecycleHandler, maxMs: number, cutoff: Cutoff): Promise<void> {
    const ac = new AbortController();
    let why = '';
    const abort = (reason: string): void => {
      if (ac.signal.aborted) return;
      why = reason;
      ac.abort();
    };
    const timer = setTimeout(() => abort('not completed in the grace period'), maxMs);
    void cutoff.reached().then(() => abort('cut short: the pod was asked to stop sooner'));
    void r.exited.then(() => abort('ended: the container exited'));
    const target: ProbeTarget = { podIp: this.ctx.facts.podIp, container: this.spec, pid: r.pid, uid: r.uid, gid: r.gid, env: r.env };
    const began = Date.now();
    this.ctx.log(`${this.name}: running preStop hook ${describeHandler(hook)}`);
    try {
      await runLifecycleHandler(hook, target, ac.signal);
      this.ctx.log(`${this.name}: preStop hook completed in ${Date.now() - began} ms`);
    } catch (err) {
      if (ac.signal.aborted) {
        this.ctx.log(`${this.name}: preStop hook ${why} (${Date.now() - began} ms)`);
        return;
      }
      this.ctx.log(`${this.name}: FailedPreStopHook: ${describeHandler(hook)}: ${err instanceof Error ? err.message : String(err)}`);
      this.ctx.recordEvent(this.fieldPath, 'Warning', 'FailedPreStopHook', 'PreStopHook failed');
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The kubelet's postStart: run right after the start, before the next
   * container of the pod is started, with no time limit of its own (it ends
   * when the container exits or the pod stops). A failure is logged and
   * recorded as a FailedPostStartHook Event without the message, as the
   * kubelet does; the caller kills the container. Returns whether it passed.
   */
  private async runPostStart(r: Running, hook: V1LifecycleHandler): Promise<boolean> {
    const ac = new AbortController();
    void r.exited.then(() => ac.abort());
    const stopWatch = setInterval(() => {
      if (this.stopping) ac.abort();
    }, 50);
    const target: ProbeTarget = { podIp: this.ctx.facts.podIp, container: this.spec, pid: r.pid, uid: r.uid, gid: r.gid, env: r.env };
    const began = Date.now();
    this.ctx.log(`${this.name}: running postStart hook ${describeHandler(hook)}`);
    try {
      await runLifecycleHandler(hook, target, ac.signal);
      this.ctx.log(`${this.name}: postStart hook completed in ${Date.now() - began} ms`);
      return true;
    } catch (err) {
      if (ac.signal.aborted) {
        this.ctx.log(`${this.name}: postStart hook cut short: the container exited or the pod is stopping (${Date.now() - began} ms)`);
        return false;
      }
      this.ctx.log(`${this.name}: FailedPostStartHook: ${describeHandler(hook)}: ${err instanceof Error ? err.message : String(err)}`);
      this.ctx.recordEvent(this.fieldPath, 'Warning', 'FailedPostStartHook', 'PostStartHook failed');
      return false;
    } finally {
      clearInterval(stopWatch);
    }
  }

  private get fieldPath(): string {
    return this.kind === 'main' ? `spec.containers{${this.name}}` : `spec.initContainers{${this.name}}`;
  }

  /**
   * Stops for good (the pod's termination, or its sidecars once its app
   * containers completed): no restart; a start under way is awaited and its
   * process stopped too; the running process goes as killRunning says. Asked
   * again, it returns the same termination.
   */
  terminate(req: StopRequest): Promise<void> {
    this.termination ??= this.terminateOnce(req);
    return this.termination;
  }

  private async terminateOnce(req: StopRequest): Promise<void> {
    this.stopping = true;
    this.wakeBackoff?.();
    for (const w of this.startedWaiters.splice(0)) w();
    for (const w of this.launchedWaiters.splice(0)) w();
    if (this.starting !== undefined) await this.starting;
    const r = this.running;
    if (r === undefined) return;
    await this.killRunning(r, req.graceSeconds, req.turn, req.cutoff);
  }
}

/**
 * A pod's app containers started as the kubelet's SyncPod starts them: one
 * after another, each start (its postStart hook included) over before the
 * next begins; a failed start or hook does not hold the others back. Stops
 * starting once the pod is stopping. Each run is handed to `onRun` as it
 * begins; returns them all.
 */
export async function startAppContainers(runners: ContainerRunner[], stopping: () => boolean, onRun: (run: Promise<void>) => void = () => undefined): Promise<Promise<void>[]> {
  const runs: Promise<void>[] = [];
  for (const r of runners) {
    if (stopping()) break;
    const run = r.run();
    runs.push(run);
    onRun(run);
    await r.waitLaunched();
  }
  return runs;
}

/**
 * A pod's containers stopped as the kubelet's killContainersWithSyncResult
 * does: every one asked at once; each runs its preStop hook; native sidecars
 * get SIGTERM on their turn (terminationPrereqs). Containers not running
 * just stop restarting.
 */
export async function stopContainers(spec: Pick<V1PodSpec, 'containers' | 'initContainers'>, runners: ContainerRunner[], graceSeconds: number, cutoff: Cutoff): Promise<void> {
  const active = new Set(runners.filter((r) => r.active).map((r) => r.name));
  const prereqs = terminationPrereqs(spec, active);
  const exited = new Map<string, { done: Promise<void>; resolve: () => void }>();
  for (const r of runners) {
    let resolve = (): void => undefined;
    const done = new Promise<void>((res) => (resolve = res));
    exited.set(r.name, { done, resolve });
  }
  await Promise.all(
    runners.map(async (r) => {
      const waitFor = prereqs.get(r.name);
      const turn = waitFor === undefined ? undefined : Promise.all(waitFor.map((n) => exited.get(n)?.done));
      try {
        await r.terminate({ graceSeconds, cutoff, ...(turn === undefined ? {} : { turn }) });
      } finally {
        exited.get(r.name)?.resolve();
      }
    }),
  );
}
