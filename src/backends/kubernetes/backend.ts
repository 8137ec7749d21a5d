// The gateway's view of functions running in the cluster. The controller owns
// every object; this backend only reads the EndpointSlices of each serving
// unit's Service (so it knows which pods exist and which are ready) and
// writes the unit's scale subresource (so the controller sizes the
// Deployment): the Function's for $LATEST (key NAME), the FunctionVersion's
// for a published version (key NAME:N).
// On a scale-down it picks the pods that leave itself: it stops choosing
// them at once and gives them a low pod-deletion-cost before writing the new
// count, so the ReplicaSet deletes those pods, whose agents then drain.
// On a scale-up it first claims idle warm-pool pods for a function a pool
// can serve (src/pools), gives each the function's code and configuration,
// and takes it as an instance as soon as its agent accepted them. Pods the
// Deployment starts are taken as soon as their agents say they are ready
// (pod-readiness.ts), before the readiness probe and the EndpointSlice say
// so; a pod's deletion is taken from the pod informer, before the slice.
import { hostname } from 'node:os';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Agent as HttpDispatcher, type Dispatcher } from 'undici';
import type { HearthFunction } from '../../api/function.js';
import type { WarmPool } from '../../api/warm-pool.js';
import { AgentClient } from '../../agent/client.js';
import { Informer } from '../../kube/informer.js';
import { scaleFunction, scaleFunctionVersion, setPodDeletionCost } from '../../kube/objects.js';
import { RESOURCES } from '../../kube/paths.js';
import { KubeRest } from '../../kube/rest.js';
import { AGENT_PORT } from '../../controller/resources/names.js';
import type { GatewayPoolMetrics } from '../../metrics/pools.js';
import { poolFor, type PoolView } from '../../pools/eligibility.js';
import { ANNOTATION_CLAIMED_BY, LABEL_POOL } from '../../pools/labels.js';
import { instanceSpecHash, type Specialization } from '../../pools/specialization.js';
import { LABEL_MANAGED_BY, MANAGED_BY } from '../../versions/labels.js';
import type { Backend, Instance } from '../backend.js';
import { LATEST } from '../../api/function.js';
import { splitUnitKey, unitLabels, versionObjectName } from '../../versions/units.js';
import { SERVICE_NAME_LABEL, endpointsOf, unitKeyOfSlice, type EndpointSlice } from './endpoints.js';
import { mergeRecords, sliceTookOver, type PodFact } from './instance-records.js';
import { KubernetesInstance, type HoldKind, type InvokeClient } from './instance.js';
import { ReadinessPolls } from './pod-readiness.js';
import { claimablePods, isTerminating, orphanedClaim, pickRandom, podAddress, readyPredatesClaim, readySince, specializationFailed, unitKeyOfPod, type PodObject } from './pods.js';
import { claimPod, markSpecializationFailed, readConfigMap, sendSpecialization, SPECIALIZE_TIMEOUT_MS } from './pool-claims.js';
import { buildSpecialization, configMapsOf, type ConfigMapData } from './specialization-payload.js';
import { chooseVictims, VICTIM_DELETION_COST } from './victims.js';

export interface KubernetesBackendOptions {
  kubeConfig: KubeConfig;
  /** The namespace whose Functions this gateway serves. */
  namespace: string;
  agentPort?: number;
  /** How an instance talks to its agent; the agent's HTTP client by default. */
  makeClient?: (url: string) => InvokeClient;
  now?: () => number;
  onError?: (err: unknown) => void;
  logger?: Logger;
  /** Longest this gateway holds an instance back on its own (default instance.ts HOLD_MS); tests shorten it. */
  holdMs?: number;
  /** Counts of starts by path, claims and specialisation times. */
  metrics?: GatewayPoolMetrics;
  /** Written on the pods this gateway claims (ANNOTATION_CLAIMED_BY): its pod name (HOSTNAME) by default, else the host name. */
  claimedBy?: string;
  /** Which idle pool pod to claim; Math.random by default. */
  random?: () => number;
  /** How long one /readyz long poll asks the agent to wait (default pod-readiness.ts READY_WAIT_MS). */
  readyWaitMs?: number;
  /** After a failed specialisation, how long this gateway starts the unit's instances from its Deployment only (default 30 s). */
  poolBackoffMs?: number;
  /** How readiness polls and specialisations reach agents (default: connections of this backend's own); tests route pod addresses to loopback. */
  agentDispatcher?: Dispatcher;
}

type SliceObject = EndpointSlice & KubernetesObject;
type PodItem = PodObject & KubernetesObject;
/** A WarmPool in wire form: only what eligibility reads (the API server has applied the CRD's defaults). */
type PoolItem = { spec?: Partial<Pick<WarmPool['spec'], 'runtime' | 'memoryMB' | 'ephemeralStorageMB'>> } & KubernetesObject;

/** Tries per instance wanted: another gateway may claim the pod picked first. */
const CLAIM_TRIES = 3;
const POOL_BACKOFF_MS = 30_000;
/** How long a deleted pod's name is remembered, so slices that still list it do not bring it back. */
const GONE_MEMORY_MS = 5 * 60_000;
/** A claimed pod whose agent is still idle this long after its claim lost its claimer (orphanedClaim). */
const ORPHANED_CLAIM_MS = SPECIALIZE_TIMEOUT_MS + 15_000;

export class KubernetesBackend implements Backend {
  readonly kind = 'kubernetes' as const;
  readonly #o: KubernetesBackendOptions;
  readonly #rest: KubeRest;
  readonly #slices: Informer<SliceObject>;
  readonly #pods: Informer<PodItem>;
  readonly #pools: Informer<PoolItem>;
  /** Connections to agents for readiness polls and specialisations (invocations have their own, per instance). */
  readonly #http: Dispatcher;
  readonly #readiness: ReadinessPolls;
  readonly #port: number;
  readonly #instances = new Map<string, KubernetesInstance[]>();
  readonly #concurrency = new Map<string, number>();
  /** Each unit's whole spec, as upsert() gave it: what a claimed pod is specialised with. */
  readonly #units = new Map<string, HearthFunction>();
  readonly #listeners = new Set<(name: string) => void>();
  readonly #makeClient: (url: string) => InvokeClient;
  /** Per unit: the scale calls in order, so the latest count is the one written last. */
  readonly #writes = new Map<string, { seq: number; chain: Promise<void> }>();
  /** The unit each slice was last seen under: a slice whose Service's labels changed leaves its old unit, which is rebuilt too. */
  readonly #sliceUnits = new Map<string, string>();
  /** The unit each pod was last seen under. */
  readonly #podUnits = new Map<string, string>();
  /** Pods known ready from their agents (a pool pod this gateway specialised, or a /readyz answer) that their slices do not say are ready yet. */
  readonly #direct = new Map<string, { unit: string; address: string; at: number }>();
  /** Pods the pod informer saw deleted, and when: slices still listing them do not bring them back. */
  readonly #gone = new Map<string, number>();
  /** Per unit: pool claims under way, not instances yet. Counted as live, so concurrent scale calls claim no more than needed. */
  readonly #claiming = new Map<string, number>();
  /** Pool pods this gateway is claiming: its own concurrent claims pick others. */
  readonly #taking = new Set<string>();
  /** Pods this gateway claimed and is specialising: it learns their readiness from the specialisation, not a poll. */
  readonly #specializingPods = new Set<string>();
  /** Orphaned claims this gateway marked failed (see #idleAnswer). */
  readonly #orphansMarked = new Set<string>();
  /** Per unit: until when it starts instances from its Deployment only, after a failed specialisation. */
  readonly #poolBackoff = new Map<string, number>();
  /** Per unit: the count last asked for (to count the pods asked of the Deployment). */
  readonly #asked = new Map<string, number>();
  readonly #specializing = new Set<Promise<void>>();
  readonly #closing = new AbortController();
  readonly #claimedBy: string;
  #metrics: GatewayPoolMetrics | undefined;
  #started: Promise<void> | undefined;

  constructor(opts: KubernetesBackendOptions) {
    this.#o = opts;
    this.#rest = new KubeRest(opts.kubeConfig);
    this.#port = opts.agentPort ?? AGENT_PORT;
    this.#metrics = opts.metrics;
    this.#claimedBy = opts.claimedBy ?? process.env.HOSTNAME ?? hostname();
    this.#makeClient = opts.makeClient ?? ((url) => new AgentClient(url));
    this.#http = opts.agentDispatcher ?? new HttpDispatcher({ connect: { timeout: 2000 }, keepAliveTimeout: 10_000 });
    this.#readiness = new ReadinessPolls({
      port: this.#port,
      dispatcher: this.#http,
      onReady: (pod, address) => this.#learnedReady(pod, address),
      onIdle: (pod) => this.#idleAnswer(pod),
      ...(opts.readyWaitMs !== undefined ? { waitMs: opts.readyWaitMs } : {}),
    });
    const onError = opts.onError !== undefined ? { onError: opts.onError } : {};
    this.#slices = new Informer<SliceObject>(this.#rest, RESOURCES.EndpointSlice, {
      namespace: opts.namespace,
      labelSelector: SERVICE_NAME_LABEL,
      ...onError,
    });
    const changed = (s: SliceObject, gone = false): void => {
      const slice = s.metadata?.name ?? '';
      const key = unitKeyOfSlice(s);
      const before = this.#sliceUnits.get(slice);
      if (gone || key === undefined) this.#sliceUnits.delete(slice);
      else this.#sliceUnits.set(slice, key);
      if (before !== undefined && before !== key) this.#refresh(before);
      if (key !== undefined) this.#refresh(key);
    };
    this.#slices.on({ add: (s) => changed(s), update: (s) => changed(s), delete: (s) => changed(s, true) });
    // Function pods, claimed pool pods and idle pool pods all carry managed-by=hearth.
    this.#pods = new Informer<PodItem>(this.#rest, RESOURCES.Pod, {
      namespace: opts.namespace,
      labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
      ...onError,
    });
    this.#pods.on({ add: (p) => this.#podChanged(p), update: (p) => this.#podChanged(p), delete: (p) => this.#podDeleted(p) });
    // Retried less often: a cluster installed without the WarmPool CRD fails every list, and is simply served without pools.
    this.#pools = new Informer<PoolItem>(this.#rest, RESOURCES.WarmPool, { namespace: opts.namespace, retryMs: 15_000, ...onError });
  }

  /** Lists and starts watching EndpointSlices, pods and WarmPools; instances() is empty until this resolves. */
  start(): Promise<void> {
    // Slices first: pods their slices already call ready are not polled.
    this.#started ??= this.#slices.start().then(() => Promise.all([this.#pods.start(), this.#pools.start()]).then(() => undefined));
    return this.#started;
  }

  /** Counts starts, claims and specialisation times on these metrics (the gateway's registry exists only once serving starts). */
  attachMetrics(metrics: GatewayPoolMetrics): void {
    this.#metrics = metrics;
  }

  async upsert(fn: HearthFunction): Promise<void> {
    // The controller creates and rolls the objects; the gateway needs the instance concurrency, and the spec for claimed pods.
    this.#units.set(fn.metadata.name, fn);
    this.#concurrency.set(fn.metadata.name, fn.spec.concurrency);
    for (const i of this.#instances.get(fn.metadata.name) ?? []) i.concurrency = fn.spec.concurrency;
  }

  async remove(name: string): Promise<void> {
    this.#units.delete(name);
    this.#concurrency.delete(name);
    this.#asked.delete(name);
    this.#poolBackoff.delete(name);
  }

  /**
   * Writes the unit's replica count: the Function's for NAME, the
   * FunctionVersion's for NAME:N. Scaling down, it first picks the
   * victims (chooseVictims), holds them back (this gateway stops choosing
   * them now, before their pods get SIGTERM) and gives their pods a low
   * deletion cost. Scaling up, victims whose pods are not leaving yet are
   * kept instead, and lose their low cost first; then, for a function a
   * warm pool can serve, idle pool pods are claimed for the rest before the
   * count is written (the controller gives the Deployment only what
   * claimed pods do not cover). The choice is made when called; the writes
   * of successive calls go out in call order, and a count a later call
   * replaces is not written.
   */
  scale(name: string, desired: number): Promise<void> {
    const target = Math.max(0, Math.floor(desired));
    const all = this.#instances.get(name) ?? [];
    const live = all.filter((i) => i.state === 'ready' || i.state === 'starting');
    const claiming = this.#claiming.get(name) ?? 0;
    const costs: { pod: string; cost: number | null }[] = [];
    let changed = false;
    let kept = 0;
    let claims: Promise<number> | undefined;
    if (target < live.length) {
      const ids = new Set(chooseVictims(live.map((i) => ({ id: i.id, state: i.state, inFlight: i.inFlight, readyAt: i.readyAt })), target));
      for (const i of live) {
        if (!ids.has(i.id) || !i.hold('victim')) continue;
        changed = true;
        if (i.pod !== undefined) costs.push({ pod: i.pod, cost: VICTIM_DELETION_COST });
      }
      this.#o.logger?.info({ function: name, from: live.length, to: target, victims: [...ids] }, 'scale-down victims chosen');
    } else if (target > live.length) {
      const keep = all.filter((i) => i.held === 'victim' && (i.endpointState === 'ready' || i.endpointState === 'starting')).slice(0, target - live.length);
      for (const i of keep) {
        i.release();
        changed = true;
        if (i.pod !== undefined) costs.push({ pod: i.pod, cost: null });
      }
      kept = keep.length;
      const want = target - live.length - kept - claiming;
      if (want > 0) claims = this.#claimFromPool(name, want);
    }
    // What was on its way before this call: counted once, not again by every caller that waits for it.
    const covered = Math.max(this.#asked.get(name) ?? 0, live.length + kept + claiming);
    this.#asked.set(name, target);
    if (changed) this.#notifySoon(name);
    return this.#inOrder(name, async (superseded) => {
      await Promise.all(costs.map((c) => this.#setCost(c.pod, c.cost)));
      const claimed = claims === undefined ? 0 : await claims;
      const fromDeployment = target - covered - claimed;
      if (fromDeployment > 0) this.#metrics?.instanceStarts.inc({ ...unitLabels(name), path: 'pod' }, fromDeployment);
      if (superseded()) return;
      const { name: fn, version } = splitUnitKey(name);
      if (version === LATEST) await scaleFunction(this.#rest, this.#o.namespace, fn, target);
      else await scaleFunctionVersion(this.#rest, this.#o.namespace, versionObjectName(fn, version), target);
    });
  }

  instances(name: string): readonly Instance[] {
    return this.#instances.get(name) ?? [];
  }

  onChange(listener: (functionName: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #inOrder(name: string, write: (superseded: () => boolean) => Promise<void>): Promise<void> {
    let entry = this.#writes.get(name);
    if (entry === undefined) {
      entry = { seq: 0, chain: Promise.resolve() };
      this.#writes.set(name, entry);
    }
    const mine = ++entry.seq;
    const e = entry;
    const run = e.chain.catch(() => undefined).then(() => write(() => e.seq !== mine));
    e.chain = run;
    return run;
  }

  /** A pod's deletion cost, best effort: without it the ReplicaSet may delete another pod, which then drains in turn. */
  async #setCost(pod: string, cost: number | null): Promise<void> {
    try {
      await setPodDeletionCost(this.#rest, this.#o.namespace, pod, cost);
    } catch (err) {
      this.#o.logger?.warn({ err, pod, cost }, 'could not set the pod deletion cost');
    }
  }

  /** After the current turn: a hold may change inside the dispatcher's own pass over its waiters. */
  #notifySoon(name: string): void {
    queueMicrotask(() => {
      for (const l of this.#listeners) l(name);
    });
  }

  #onHoldChange(instance: KubernetesInstance, change: { kind: HoldKind; held: boolean }): void {
    // A victim whose pod was not deleted after all serves again, and sheds its low cost.
    if (!change.held && change.kind === 'victim' && instance.pod !== undefined) void this.#setCost(instance.pod, null);
    this.#notifySoon(instance.functionName);
  }

  // ---- warm pools ----

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /** The WarmPools of the namespace as eligibility sees them. */
  #poolViews(): PoolView[] {
    const out: PoolView[] = [];
    for (const p of this.#pools.list(this.#o.namespace)) {
      const name = p.metadata?.name;
      const runtime = p.spec?.runtime;
      if (name === undefined || p.metadata?.deletionTimestamp !== undefined) continue;
      if (runtime !== 'python' && runtime !== 'nodejs') continue;
      out.push({ name, runtime, memoryMB: p.spec?.memoryMB ?? 128, ephemeralStorageMB: p.spec?.ephemeralStorageMB ?? 512 });
    }
    return out;
  }

  #release(name: string, n: number): void {
    const left = (this.#claiming.get(name) ?? 0) - n;
    if (left > 0) this.#claiming.set(name, left);
    else this.#claiming.delete(name);
  }

  /**
   * Claims up to `want` idle pods of the pool that can serve the unit, and
   * specialises each in the background. Resolves with how many were claimed
   * (relabelled as the unit's), once every claim has been made or given up;
   * 0 when no pool serves the unit. Never rejects: a unit without a claimed
   * pod is started from its Deployment.
   */
  #claimFromPool(name: string, want: number): Promise<number> {
    const fn = this.#units.get(name);
    if (fn === undefined || this.#closing.signal.aborted) return Promise.resolve(0);
    if ((this.#poolBackoff.get(name) ?? 0) > this.#now()) return Promise.resolve(0);
    const match = poolFor(fn.spec, this.#poolViews());
    if (!match.ok) {
      this.#o.logger?.debug({ function: name, refusal: match.refusal, reason: match.message }, 'no warm pool for this function');
      return Promise.resolve(0);
    }
    // No more claims than idle pods: the rest come from the Deployment at once.
    const idle = claimablePods(this.#pods.list(this.#o.namespace), match.pool.name, this.#taking).length;
    const n = Math.min(want, idle);
    if (n === 0) {
      this.#metrics?.claims.inc({ runtime: match.pool.runtime, outcome: 'empty' });
      this.#o.logger?.info({ function: name, pool: match.pool.name }, 'warm pool has no ready pod to claim');
      return Promise.resolve(0);
    }
    // Counted before any await, so a scale call made meanwhile does not claim the same instances again.
    this.#claiming.set(name, (this.#claiming.get(name) ?? 0) + n);
    return (async () => {
      let payload: Specialization;
      try {
        payload = await this.#payloadOf(name, fn);
      } catch (err) {
        this.#release(name, n);
        this.#poolBackoff.set(name, this.#now() + (this.#o.poolBackoffMs ?? POOL_BACKOFF_MS));
        this.#o.logger?.warn({ err, function: name }, 'cannot specialise a pool pod for this function; starting its own pods');
        return 0;
      }
      const claimed = await Promise.all(Array.from({ length: n }, () => this.#claimOne(name, fn, match.pool, payload)));
      return claimed.filter(Boolean).length;
    })();
  }

  async #payloadOf(name: string, fn: HearthFunction): Promise<Specialization> {
    const names = configMapsOf(fn);
    const read = await Promise.all(names.map(async (n) => [n, await readConfigMap(this.#rest, this.#o.namespace, n)] as const));
    return buildSpecialization(fn, name, new Map<string, ConfigMapData | undefined>(read));
  }

  /** One instance from the pool: up to CLAIM_TRIES pods, each claimed by a conditional patch. True once one is the unit's. */
  async #claimOne(name: string, fn: HearthFunction, pool: PoolView, payload: Specialization): Promise<boolean> {
    const runtime = pool.runtime;
    /** Pods tried, at the resourceVersion that lost: one the informer shows changed since may be tried again. */
    const tried = new Map<string, string>();
    for (let t = 0; t < CLAIM_TRIES && !this.#closing.signal.aborted; t++) {
      const candidates = claimablePods(this.#pods.list(this.#o.namespace), pool.name, this.#taking).filter((p) => tried.get(p.metadata?.name ?? '') !== p.metadata?.resourceVersion);
      const pod = pickRandom(candidates, this.#o.random ?? Math.random);
      const podName = pod?.metadata?.name;
      const resourceVersion = pod?.metadata?.resourceVersion;
      const address = pod !== undefined ? podAddress(pod) : undefined;
      if (podName === undefined || resourceVersion === undefined || address === undefined) {
        this.#metrics?.claims.inc({ runtime, outcome: 'empty' });
        this.#o.logger?.info({ function: name, pool: pool.name }, 'warm pool has no ready pod to claim');
        break;
      }
      tried.set(podName, resourceVersion);
      this.#taking.add(podName);
      const claimedAt = this.#now();
      let outcome: 'claimed' | 'conflict';
      try {
        outcome = await claimPod(this.#rest, this.#o.namespace, podName, { resourceVersion, pool: pool.name, unit: name, specHash: instanceSpecHash(fn.spec), claimedBy: this.#claimedBy, now: claimedAt });
      } catch (err) {
        this.#taking.delete(podName);
        this.#metrics?.claims.inc({ runtime, outcome: 'failed' });
        this.#o.logger?.warn({ err, function: name, pod: podName }, 'claiming a pool pod failed');
        break;
      }
      if (outcome === 'conflict') {
        this.#taking.delete(podName);
        this.#metrics?.claims.inc({ runtime, outcome: 'conflict' });
        this.#o.logger?.debug({ function: name, pod: podName }, 'pool pod changed since seen (claimed by another gateway?); trying another');
        continue;
      }
      this.#o.logger?.info({ function: name, pod: podName, pool: pool.name }, 'claimed a warm-pool pod');
      this.#specializingPods.add(podName);
      this.#readiness.stop(podName);
      const done = this.#specialize(name, runtime, podName, address, payload, claimedAt).finally(() => {
        this.#specializingPods.delete(podName);
        this.#specializing.delete(done);
      });
      this.#specializing.add(done);
      return true;
    }
    this.#release(name, 1);
    return false;
  }

  /** Gives the claimed pod the function; on its agent's 200 the pod is an instance at once. A failure marks the pod for deletion. */
  async #specialize(name: string, runtime: string, pod: string, address: string, payload: Specialization, claimedAt: number): Promise<void> {
    try {
      await sendSpecialization(this.#http, address, this.#port, payload, undefined, this.#closing.signal);
    } catch (err) {
      this.#release(name, 1);
      if (this.#closing.signal.aborted) {
        // Shutting down mid-specialisation: the pod can never be this function's now; say so, so it is replaced at once.
        await markSpecializationFailed(this.#rest, this.#o.namespace, pod).catch(() => undefined);
        return;
      }
      this.#metrics?.claims.inc({ runtime, outcome: 'failed' });
      this.#poolBackoff.set(name, this.#now() + (this.#o.poolBackoffMs ?? POOL_BACKOFF_MS));
      // The scale already counts this pod; the controller deletes it and the Deployment starts one in its place.
      this.#metrics?.instanceStarts.inc({ ...unitLabels(name), path: 'pod' });
      this.#o.logger?.warn({ err, function: name, pod }, 'specialising a claimed pool pod failed; the Deployment starts one instead');
      try {
        await markSpecializationFailed(this.#rest, this.#o.namespace, pod);
      } catch (e) {
        this.#o.logger?.warn({ err: e, pod }, 'could not mark the pool pod failed');
      }
      return;
    }
    this.#release(name, 1);
    this.#metrics?.claims.inc({ runtime, outcome: 'claimed' });
    this.#metrics?.specializationSeconds.observe({ runtime }, (this.#now() - claimedAt) / 1000);
    this.#metrics?.instanceStarts.inc({ ...unitLabels(name), path: 'pool' });
    if (this.#closing.signal.aborted) return;
    this.#o.logger?.info({ function: name, pod, ms: this.#now() - claimedAt }, 'pool pod specialised');
    this.#direct.set(pod, { unit: name, address, at: this.#now() });
    this.#refresh(name);
  }

  // ---- pods ----

  #podChanged(p: PodItem): void {
    const pod = p.metadata?.name;
    if (pod === undefined) return;
    // Our claim (or another's) is in the informer now: the pod is no longer claimable anyway.
    if (p.metadata?.labels?.[LABEL_POOL] === undefined) this.#taking.delete(pod);
    const unit = unitKeyOfPod(p);
    const before = this.#podUnits.get(pod);
    if (unit === undefined) this.#podUnits.delete(pod);
    else this.#podUnits.set(pod, unit);
    if (before !== undefined && before !== unit) this.#refresh(before);
    // Only a deletion changes what the pod's instance is; other updates (status) leave it.
    if (unit !== undefined && (isTerminating(p) || before !== unit)) this.#refresh(unit);
    // After the refresh: what the slice alone said of the pod (an idle pool pod's Ready) may just have been taken back.
    this.#considerPoll(pod, p, unit);
  }

  #podDeleted(p: PodItem): void {
    const pod = p.metadata?.name;
    if (pod === undefined) return;
    const now = this.#now();
    for (const [name, at] of this.#gone) if (now - at > GONE_MEMORY_MS) this.#gone.delete(name);
    this.#gone.set(pod, now);
    this.#taking.delete(pod);
    this.#orphansMarked.delete(pod);
    this.#readiness.stop(pod);
    const units = new Set([this.#podUnits.get(pod), unitKeyOfPod(p), this.#direct.get(pod)?.unit]);
    this.#podUnits.delete(pod);
    this.#direct.delete(pod);
    for (const u of units) if (u !== undefined) this.#refresh(u);
  }

  /**
   * Polls the agent of a pod of a unit that has an address and is not known
   * ready yet: a new pod of its Deployment, or a pool pod another gateway
   * claimed (its slice's "ready" is the idle pod's; the poll ignores the
   * idle answer and waits for the function's). Not a pod this gateway is
   * specialising (its answer tells), nor one whose specialisation failed.
   */
  #considerPoll(pod: string, p: PodObject, unit: string | undefined): void {
    const address = podAddress(p);
    if (unit === undefined || address === undefined || this.#specializingPods.has(pod) || specializationFailed(p) || this.#direct.has(pod) || this.#readyInstance(unit, pod)) {
      this.#readiness.stop(pod);
      return;
    }
    this.#readiness.start(pod, address);
  }

  #readyInstance(unit: string, pod: string): boolean {
    return (this.#instances.get(unit) ?? []).some((i) => i.id === pod && i.endpointState === 'ready');
  }

  /** The agent of `pod` answered /readyz with 200. */
  #learnedReady(pod: string, address: string): void {
    const p = this.#pods.get(pod, this.#o.namespace);
    if (this.#closing.signal.aborted || p === undefined) return;
    const unit = unitKeyOfPod(p);
    if (unit === undefined || podAddress(p) !== address || specializationFailed(p)) return;
    this.#o.logger?.debug({ function: unit, pod }, 'agent says ready');
    this.#direct.set(pod, { unit, address, at: this.#now() });
    // A call it refused while it specialised held it back; its agent's word ends that guess.
    const held = (this.#instances.get(unit) ?? []).find((i) => i.id === pod && i.held === 'refused');
    held?.release();
    this.#refresh(unit);
    if (held !== undefined) this.#notifySoon(unit);
  }

  /**
   * A pod's agent answered as an idle pool pod. For a claimed pod long past
   * its claim (its claimer went away before specialising it), marks it
   * failed, so the controller replaces it rather than count it as an
   * instance of its unit for ever. Once per pod; any gateway may.
   */
  #idleAnswer(pod: string): void {
    const p = this.#pods.get(pod, this.#o.namespace);
    if (p === undefined || this.#specializingPods.has(pod) || this.#orphansMarked.has(pod)) return;
    if (!orphanedClaim(p, this.#now(), ORPHANED_CLAIM_MS)) return;
    this.#orphansMarked.add(pod);
    this.#o.logger?.warn({ pod, function: unitKeyOfPod(p), claimedBy: p.metadata?.annotations?.[ANNOTATION_CLAIMED_BY] }, 'a claimed pool pod was never specialised; marking it failed');
    markSpecializationFailed(this.#rest, this.#o.namespace, pod).catch((err: unknown) => {
      this.#orphansMarked.delete(pod);
      this.#o.logger?.warn({ err, pod }, 'could not mark the pool pod failed');
    });
  }

  #podFact(pod: string): PodFact {
    if (this.#gone.has(pod)) return 'gone';
    const p = this.#pods.get(pod, this.#o.namespace);
    if (p === undefined) return 'unknown';
    if (isTerminating(p)) return 'terminating';
    return readyPredatesClaim(p) ? 'specializing' : 'present';
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all([this.#slices.stop(), this.#pods.stop(), this.#pools.stop()]);
    await this.#readiness.close();
    await Promise.allSettled([...this.#specializing]);
    const all = [...this.#instances.values()].flat();
    this.#instances.clear();
    await Promise.all(all.map((i) => i.close()));
    if (this.#o.agentDispatcher === undefined) await this.#http.close();
    this.#rest.close();
  }

  /**
   * Rebuilds the unit's instance list from its slices and what agents told
   * this gateway directly (mergeRecords), keeping the objects of pods that
   * stay: a pod learned directly keeps its instance when its slice lists it.
   */
  #refresh(name: string): void {
    const now = this.#now();
    const slices = this.#slices.list(this.#o.namespace).filter((s) => unitKeyOfSlice(s) === name);
    const fromSlices = endpointsOf(slices);
    const direct = [...this.#direct].filter(([, d]) => d.unit === name).map(([pod, d]) => ({ pod, address: d.address }));
    const records = mergeRecords(fromSlices, direct, (pod) => this.#podFact(pod));
    for (const r of records) if (r.pod !== undefined && r.state !== 'starting') this.#readiness.stop(r.pod);
    // Once its slice says ready (and not from before the agent said so), the slice speaks for the pod.
    for (const r of fromSlices) {
      if (r.pod === undefined || r.state !== 'ready') continue;
      const d = this.#direct.get(r.pod);
      const p = this.#pods.get(r.pod, this.#o.namespace);
      if (d?.unit === name && sliceTookOver(r.state, p !== undefined ? readySince(p) : undefined, d.at)) this.#direct.delete(r.pod);
    }
    for (const d of direct) if (this.#podFact(d.pod) === 'gone') this.#direct.delete(d.pod);
    const before = this.#instances.get(name) ?? [];
    const byId = new Map(before.map((i) => [i.id, i]));
    let changed = records.length !== before.length;
    const next: KubernetesInstance[] = [];
    for (const r of records) {
      let inst = byId.get(r.id);
      if (inst !== undefined && inst.address !== r.address) inst = undefined;
      if (inst === undefined) {
        inst = new KubernetesInstance({
          id: r.id,
          functionName: name,
          address: r.address,
          pod: r.pod,
          concurrency: this.#concurrency.get(name) ?? 1,
          state: r.state,
          makeClient: this.#makeClient,
          port: this.#port,
          now,
          onHoldChange: (i, c) => this.#onHoldChange(i, c),
          ...(this.#o.holdMs !== undefined ? { holdMs: this.#o.holdMs } : {}),
        });
        changed = true;
      } else if (inst.setState(r.state, now)) {
        changed = true;
      }
      byId.delete(r.id);
      next.push(inst);
    }
    for (const gone of byId.values()) {
      changed = true;
      gone.close().catch((err: unknown) => this.#o.onError?.(err));
    }
    if (next.length === 0) this.#instances.delete(name);
    else this.#instances.set(name, next);
    // A pod still starting is asked of its agent: a gateway that started after a pod's claim learns it so, as its Ready predates the claim.
    for (const r of records) {
      const p = r.pod !== undefined && r.state === 'starting' ? this.#pods.get(r.pod, this.#o.namespace) : undefined;
      if (p !== undefined && r.pod !== undefined) this.#considerPoll(r.pod, p, name);
    }
    if (changed) for (const l of this.#listeners) l(name);
  }
}
