// The controller's moving parts put together: informers fill caches and
// enqueue keys, workers take keys from the queue and reconcile them, and a
// periodic resync re-queues every Function so drift that raised no event
// (a missed watch event, a hand edit of a kind we do not watch) is repaired.
// The queue holds Functions: a FunctionVersion, or an object or pod of
// one, re-queues the Function it is a version of, whose reconcile covers it.
// It holds WarmPools too, under keys of their own (POOL_KEY_PREFIX): a pool
// pod, idle or claimed from it, or an object the pool owns re-queues it.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics/controller.js';
import { slimObject, slimOwned, slimPod } from './cached.js';
import { EventRecorder, type EventSink } from './events.js';
import { FUNCTIONS_POLICY } from './resources/networkpolicy.js';
import { Informer, type KubernetesObject } from '../kube/informer.js';
import { FIELD_MANAGER } from './resources/names.js';
import { adoptPod, applyObject, deleteObject, deletePod, patchFunctionStatus, patchVersionStatus, patchWarmPoolStatus, setFunctionFinalizers, type WireObject } from '../kube/objects.js';
import type { ControllerPoolMetrics } from '../metrics/pools.js';
import { LABEL_CLAIMED, LABEL_CLAIMED_FROM, LABEL_POOL, LABEL_POOL_RUNTIME } from '../pools/labels.js';
import { PoolReconciler, type PoolObject } from './pool-reconciler.js';
import { POOL_KIND } from '../api/warm-pool.js';
import { RESOURCES, resourcePath, type Resource } from '../kube/paths.js';
import { KubeRest, isStatus, type KubeAccess } from '../kube/rest.js';
import type { ConfigMapContent } from '../store/configmap-copies.js';
import { LABEL_VERSION, LABEL_VERSION_OF } from '../versions/labels.js';
import { Reconciler, type OwnedKind, type ReconcilerOptions } from './reconciler.js';
import { LABEL_FUNCTION, LABEL_MANAGED_BY, MANAGED_BY } from './resources/names.js';
import { FUNCTION_STATES, type FunctionState } from './resources/status.js';
import type { FunctionObject } from './resources/validation.js';
import type { VersionObject } from './resources/versions.js';
import { WorkQueue } from './workqueue.js';

export interface ControllerOptions extends ReconcilerOptions {
  /** client-node's KubeConfig or LightKubeConfig (kube/kubeconfig.ts). */
  kubeConfig: KubeAccess;
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  /** Concurrent reconciles (default 8): reconciles wait on the API server, not the CPU. */
  workers?: number;
  /** Re-queue every Function this often (default 10 minutes). */
  resyncMs?: number;
  /** Name of this replica in Events. */
  identity?: string;
  metrics?: ControllerMetrics;
  /** Warm-pool gauges and counters, in the same registry as metrics. */
  poolMetrics?: ControllerPoolMetrics;
  logger?: Logger;
  cleanup?: (namespace: string, name: string) => Promise<void>;
  /** Publishes a version of a function whose versioning.publishOnChange is set, when its code or configuration changed. */
  publish?: (namespace: string, name: string) => Promise<void>;
  /** Deletes a version past a function's versioning.retain. */
  deleteVersion?: (namespace: string, name: string, version: string) => Promise<void>;
  /** Retry delays of failing keys (defaults: 100 ms doubling to 5 minutes). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

const OWNED: Record<OwnedKind, Resource> = {
  Deployment: RESOURCES.Deployment,
  Service: RESOURCES.Service,
  ConfigMap: RESOURCES.ConfigMap,
  ServiceAccount: RESOURCES.ServiceAccount,
  NetworkPolicy: RESOURCES.NetworkPolicy,
};

interface Meta {
  name?: string;
  namespace?: string;
  generation?: number;
  deletionTimestamp?: unknown;
  finalizers?: string[];
  labels?: Record<string, string>;
}

/** What about a Function or FunctionVersion is worth a reconcile: our own status writes are not. */
function signature(obj: FunctionObject | VersionObject): string {
  const md = obj.metadata ?? {};
  return JSON.stringify([md.generation, md.deletionTimestamp ?? null, md.finalizers ?? [], md.labels ?? {}, md.annotations ?? {}]);
}

function keyOf(md: Meta | undefined, name: string | undefined = md?.name): string | undefined {
  return name === undefined ? undefined : `${md?.namespace ?? 'default'}/${name}`;
}

/** Queue keys of WarmPools: no Function's key starts so (a namespace has no colon). */
export const POOL_KEY_PREFIX = 'WarmPool:';

function poolKeyOf(md: Meta | undefined, name: string | undefined = md?.name): string | undefined {
  const key = keyOf(md, name);
  return key === undefined ? undefined : POOL_KEY_PREFIX + key;
}

/** What about a WarmPool is worth a reconcile: our own status writes are not. */
function poolSignature(obj: PoolObject): string {
  const md = obj.metadata ?? {};
  return JSON.stringify([md.generation, md.deletionTimestamp ?? null, md.labels ?? {}]);
}

export class Controller {
  readonly rest: KubeRest;
  readonly queue: WorkQueue;
  readonly #o: ControllerOptions;
  readonly #functions: Informer<FunctionObject & KubernetesObject>;
  readonly #owned: Map<OwnedKind, Informer<WireObject & KubernetesObject>>;
  readonly #pods: Informer<V1Pod>;
  readonly #versions: Informer<VersionObject & KubernetesObject>;
  readonly #versionPods: Informer<V1Pod>;
  readonly #pools: Informer<PoolObject & KubernetesObject>;
  /** Idle and claimed warm-pool pods (both keep LABEL_POOL_RUNTIME): a pool's size, readiness and claims. */
  readonly #poolPods: Informer<V1Pod>;
  readonly #reconciler: Reconciler;
  readonly #poolReconciler: PoolReconciler;
  readonly #poolSignatures = new Map<string, string>();
  /** The WarmPool kind is not served (its CRD not installed, as after a `helm upgrade`, which installs no new CRD): Functions run as without pools. */
  #poolsUnserved = false;
  readonly #signatures = new Map<string, string>();
  readonly #versionSignatures = new Map<string, string>();
  readonly #states = new Map<string, FunctionState>();
  #workers: Promise<void>[] = [];
  #resync: NodeJS.Timeout | undefined;
  #started = false;

  constructor(opts: ControllerOptions) {
    this.#o = opts;
    this.rest = new KubeRest(opts.kubeConfig);
    const log = opts.logger;
    const m = opts.metrics;
    this.queue = new WorkQueue({
      ...(opts.baseDelayMs !== undefined ? { baseDelayMs: opts.baseDelayMs } : {}),
      ...(opts.maxDelayMs !== undefined ? { maxDelayMs: opts.maxDelayMs } : {}),
      onDepth: (n) => m?.workqueueDepth.set(n),
      onLatency: (s) => m?.workqueueLatency.observe(s),
    });
    const onError = (what: string) => (err: unknown) => log?.warn({ err }, `${what} watch failed; retrying`);
    const ns = opts.namespace !== undefined ? { namespace: opts.namespace } : {};
    this.#functions = new Informer(this.rest, RESOURCES.Function, { ...ns, transform: slimObject, onError: onError('Function') });
    this.#owned = new Map(
      (Object.entries(OWNED) as [OwnedKind, Resource][]).map(([kind, r]) => [
        kind,
        new Informer<WireObject & KubernetesObject>(this.rest, r, { ...ns, labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}`, transform: slimOwned, onError: onError(kind) }),
      ]),
    );
    this.#pods = new Informer<V1Pod>(this.rest, RESOURCES.Pod, { ...ns, labelSelector: LABEL_FUNCTION, transform: slimPod, indexBy: (p) => p.metadata?.labels?.[LABEL_FUNCTION], onError: onError('Pod') });
    this.#versions = new Informer(this.rest, RESOURCES.FunctionVersion, { ...ns, transform: slimObject, onError: onError('FunctionVersion') });
    // A version's pods carry no hearth.dev/function label (so $LATEST's Service does not select them): a watch of their own.
    this.#versionPods = new Informer<V1Pod>(this.rest, RESOURCES.Pod, { ...ns, labelSelector: LABEL_VERSION_OF, transform: slimPod, onError: onError('version Pod') });
    this.#pools = new Informer(this.rest, RESOURCES.WarmPool, {
      ...ns,
      transform: slimObject,
      onError: (err) => {
        if (!isStatus(err, 404)) return onError('WarmPool')(err);
        // Said once; the informer keeps trying, and pools start once the CRD is there.
        if (!this.#poolsUnserved) log?.warn('the WarmPool kind is not served (is its CRD installed?): no warm pools until it is');
        this.#poolsUnserved = true;
      },
    });
    this.#poolPods = new Informer<V1Pod>(this.rest, RESOURCES.Pod, { ...ns, labelSelector: LABEL_POOL_RUNTIME, transform: slimPod, onError: onError('pool Pod') });

    const events: EventSink = new EventRecorder(this.rest, opts.identity ?? 'hearth-controller', { onError: (err) => log?.warn({ err }, 'event not recorded') });
    this.#reconciler = new Reconciler(
      {
        getFunction: (namespace, name) => this.#functions.get(name, namespace),
        getOwned: (kind, namespace, name) => this.#owned.get(kind)?.get(name, namespace),
        podsOf: (namespace, fnName) => this.#pods.byIndex(namespace, fnName),
        versionsOf: (namespace, fnName) => this.#versions.list(namespace).filter((v) => (v.spec as { function?: unknown } | undefined)?.function === fnName),
        podsOfVersion: (namespace, fnName, version) =>
          this.#versionPods.list(namespace).filter((p) => p.metadata?.labels?.[LABEL_VERSION_OF] === fnName && p.metadata.labels[LABEL_VERSION] === version),
        // A unit's claimed pods carry its labels (unitPodLabels), so podsOf and podsOfVersion list them too; these are all of the function's, its units existing or not.
        claimedPodsOf: (namespace, fnName) =>
          [...this.#pods.list(namespace), ...this.#versionPods.list(namespace)].filter(
            (p) => p.metadata?.labels?.[LABEL_CLAIMED] === 'true' && (p.metadata.labels[LABEL_FUNCTION] === fnName || p.metadata.labels[LABEL_VERSION_OF] === fnName),
          ),
        deletePod: (namespace, name, uid, gracePeriodSeconds) => deletePod(this.rest, namespace, name, { uid, ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) }),
        adoptPod: (namespace, name, uid, owner) => adoptPod(this.rest, namespace, name, uid, owner),
        // What an apply answers stands in for the cache until it catches up: kept as the cache would keep it.
        apply: async (obj) => slimOwned(await applyObject(this.rest, obj, FIELD_MANAGER)),
        remove: (kind, namespace, name) => deleteObject(this.rest, OWNED[kind], namespace, name),
        patchStatus: (namespace, name, status) => patchFunctionStatus(this.rest, namespace, name, status),
        patchVersionStatus: (namespace, name, status) => patchVersionStatus(this.rest, namespace, name, status),
        readConfigMap: (namespace, name) => this.#readConfigMap(namespace, name),
        ...(opts.publish !== undefined ? { publish: opts.publish } : {}),
        ...(opts.deleteVersion !== undefined ? { deleteVersion: opts.deleteVersion } : {}),
        setFinalizers: (namespace, name, f, rv) => setFunctionFinalizers(this.rest, namespace, name, f, rv),
        ...(opts.cleanup !== undefined ? { cleanup: opts.cleanup } : {}),
        events,
        now: () => Date.now(),
        recordState: (key, state) => (state === undefined ? this.#states.delete(key) : this.#states.set(key, state)),
      },
      opts,
    );
    this.#poolReconciler = new PoolReconciler(
      {
        getPool: (namespace, name) => this.#pools.get(name, namespace),
        getOwned: (kind, namespace, name) => this.#owned.get(kind)?.get(name, namespace),
        poolPods: (namespace) => this.#poolPods.list(namespace),
        apply: async (obj) => slimOwned(await applyObject(this.rest, obj, FIELD_MANAGER)),
        remove: (kind, namespace, name) => deleteObject(this.rest, OWNED[kind], namespace, name),
        patchPoolStatus: (namespace, name, status) => patchWarmPoolStatus(this.rest, namespace, name, status),
        events,
        now: () => Date.now(),
        ...(opts.poolMetrics !== undefined ? { metrics: opts.poolMetrics } : {}),
      },
      opts,
    );
    m?.setFunctionStates(() => {
      const counts = new Map<string, number>(FUNCTION_STATES.map((s) => [s, 0]));
      for (const s of this.#states.values()) counts.set(s, (counts.get(s) ?? 0) + 1);
      return counts;
    });

    this.#functions.on({
      add: (obj) => this.#onFunction(obj),
      update: (obj) => this.#onFunction(obj),
      delete: (obj) => {
        const key = keyOf(obj.metadata);
        if (key === undefined) return;
        this.#signatures.delete(key);
        this.queue.add(key);
      },
    });
    // Owned objects and pods name their function in a label ($LATEST's) or the one they are a version of; any change of theirs re-queues it.
    const byLabel = (obj: { metadata?: Meta }): void => {
      const labels = obj.metadata?.labels;
      const key = keyOf(obj.metadata, labels?.[LABEL_FUNCTION] ?? labels?.[LABEL_VERSION_OF]);
      if (key !== undefined) this.queue.add(key);
    };
    // A pool's objects name it in their controller ownerReference.
    const byPoolOwner = (obj: { metadata?: Meta & { ownerReferences?: { kind?: string; name?: string; controller?: boolean }[] } }): void => {
      const owner = obj.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === POOL_KIND);
      const key = poolKeyOf(obj.metadata, owner?.name);
      if (owner !== undefined && key !== undefined) this.queue.add(key);
    };
    for (const inf of this.#owned.values() as Iterable<Informer<KubernetesObject>>) inf.on({ add: byPoolOwner, update: byPoolOwner, delete: byPoolOwner });
    for (const inf of [...this.#owned.values(), this.#pods, this.#versionPods] as Informer<KubernetesObject>[]) inf.on({ add: byLabel, update: byLabel, delete: byLabel });
    // The namespace's NetworkPolicy names no function: deleted or edited, every function of the namespace puts it back.
    const byFunctionsPolicy = (obj: { metadata?: Meta }): void => {
      const namespace = obj.metadata?.namespace;
      if (obj.metadata?.name !== FUNCTIONS_POLICY || namespace === undefined) return;
      for (const fn of this.#functions.list(namespace)) {
        const key = keyOf(fn.metadata as Meta | undefined);
        if (key !== undefined) this.queue.add(key);
      }
    };
    this.#owned.get('NetworkPolicy')?.on({ update: byFunctionsPolicy, delete: byFunctionsPolicy });
    // An idle pod names its pool in LABEL_POOL, a claimed one in LABEL_CLAIMED_FROM; a claimed one's function hears of it through #pods or #versionPods.
    const byPool = (pod: V1Pod): void => {
      const labels = pod.metadata?.labels;
      const key = poolKeyOf(pod.metadata, labels?.[LABEL_POOL] ?? labels?.[LABEL_CLAIMED_FROM]);
      if (key !== undefined) this.queue.add(key);
    };
    this.#poolPods.on({ add: byPool, update: byPool, delete: byPool });
    this.#pools.on({
      add: (obj) => this.#onPool(obj),
      update: (obj) => this.#onPool(obj),
      delete: (obj) => {
        const key = poolKeyOf(obj.metadata);
        if (key === undefined) return;
        this.#poolSignatures.delete(key);
        this.queue.add(key);
      },
    });
    this.#versions.on({
      add: (obj) => this.#onVersion(obj),
      update: (obj) => this.#onVersion(obj),
      delete: (obj) => {
        const vkey = keyOf(obj.metadata);
        if (vkey !== undefined) this.#versionSignatures.delete(vkey);
        const key = keyOf(obj.metadata, functionOf(obj));
        if (key !== undefined) this.queue.add(key);
      },
    });
  }

  /** True once every cache has been listed. */
  get synced(): boolean {
    return (
      this.#started && this.#functions.synced && this.#pods.synced && this.#versions.synced && this.#versionPods.synced && (this.#pools.synced || this.#poolsUnserved) && this.#poolPods.synced &&
      [...this.#owned.values()].every((i) => i.synced)
    );
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Owned objects, versions and pods first, so the first reconcile of each Function sees what already exists.
    await Promise.all([...this.#owned.values(), this.#pods, this.#versions, this.#versionPods, this.#poolPods].map((i) => (i as Informer<KubernetesObject>).start()));
    // Stopped meanwhile (a SIGTERM right after winning the lease): a list in flight during stop() goes on to
    // watch, so stop them all again, or their watches keep the process from exiting.
    if (!this.#started) return this.#stopInformers();
    await Promise.all([this.#functions.start(), this.#pools.start()]);
    if (!this.#started) return this.#stopInformers();
    const workers = this.#o.workers ?? 8;
    this.#workers = Array.from({ length: workers }, () => this.#work());
    this.#resync = setInterval(() => this.resync(), this.#o.resyncMs ?? 600_000);
    this.#resync.unref();
  }

  /** Re-queues every known Function. */
  resync(): void {
    for (const f of this.#functions.list()) {
      const key = keyOf(f.metadata);
      if (key !== undefined) this.queue.add(key);
    }
    for (const p of this.#pools.list()) {
      const key = poolKeyOf(p.metadata);
      if (key !== undefined) this.queue.add(key);
    }
  }

  /** Stops watching, lets in-flight reconciles finish and drops what is still queued. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    if (this.#resync) clearInterval(this.#resync);
    await this.#stopInformers();
    await this.queue.shutDown();
    await Promise.all(this.#workers);
    this.rest.close();
  }

  async #stopInformers(): Promise<void> {
    await Promise.all([this.#functions, this.#pods, this.#versions, this.#versionPods, this.#pools, this.#poolPods, ...this.#owned.values()].map((i) => (i as Informer<KubernetesObject>).stop()));
  }

  #onFunction(obj: FunctionObject): void {
    const key = keyOf(obj.metadata);
    if (key === undefined) return;
    const sig = signature(obj);
    if (this.#signatures.get(key) === sig) return;
    this.#signatures.set(key, sig);
    this.queue.add(key);
  }

  #onPool(obj: PoolObject): void {
    const key = poolKeyOf(obj.metadata);
    if (key === undefined) return;
    const sig = poolSignature(obj);
    if (this.#poolSignatures.get(key) === sig) return;
    this.#poolSignatures.set(key, sig);
    this.queue.add(key);
  }

  #onVersion(obj: VersionObject): void {
    const vkey = keyOf(obj.metadata);
    const key = keyOf(obj.metadata, functionOf(obj));
    if (vkey === undefined || key === undefined) return;
    const sig = signature(obj);
    if (this.#versionSignatures.get(vkey) === sig) return;
    this.#versionSignatures.set(vkey, sig);
    this.queue.add(key);
  }

  /** A ConfigMap the function's code names, read from the API server: the informers cache only our own. */
  async #readConfigMap(namespace: string, name: string): Promise<ConfigMapContent | undefined> {
    try {
      const cm = await this.rest.request<ConfigMapContent>('GET', resourcePath(RESOURCES.ConfigMap, namespace, name));
      return { ...(cm.data !== undefined ? { data: cm.data } : {}), ...(cm.binaryData !== undefined ? { binaryData: cm.binaryData } : {}) };
    } catch (err) {
      if (isStatus(err, 404)) return undefined;
      throw err;
    }
  }

  async #work(): Promise<void> {
    const log = this.#o.logger;
    const m = this.#o.metrics;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const end = m?.reconcileDuration.startTimer();
      try {
        const outcome = key.startsWith(POOL_KEY_PREFIX) ? await this.#poolReconciler.reconcile(key.slice(POOL_KEY_PREFIX.length)) : await this.#reconciler.reconcile(key);
        this.queue.forget(key);
        if (outcome.result === 'requeue') this.queue.addAfter(key, outcome.afterMs);
        m?.reconciles.inc({ result: outcome.result });
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        m?.reconciles.inc({ result: 'error' });
        log?.warn({ err: errText(err), key, retryInMs: delay }, 'reconcile failed');
      } finally {
        end?.();
        this.queue.done(key);
      }
    }
  }
}

/** The Function a FunctionVersion is a version of: its spec says, its label too. */
function functionOf(obj: VersionObject): string | undefined {
  const fromSpec = (obj.spec as { function?: unknown } | undefined)?.function;
  return typeof fromSpec === 'string' ? fromSpec : obj.metadata?.labels?.[LABEL_VERSION_OF];
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
