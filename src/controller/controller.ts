// The controller's moving parts put together: informers fill caches and
// enqueue keys, workers take keys from the queue and reconcile them, and a
// periodic resync re-queues every Function so drift that raised no event
// (a missed watch event, a hand edit of a kind we do not watch) is repaired.
import type { KubeConfig, KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics/controller.js';
import { EventRecorder, type EventSink } from './events.js';
import { Informer } from '../kube/informer.js';
import { FIELD_MANAGER } from './resources/names.js';
import { applyObject, deleteObject, patchFunctionStatus, setFunctionFinalizers, type WireObject } from '../kube/objects.js';
import { RESOURCES, type Resource } from '../kube/paths.js';
import { KubeRest } from '../kube/rest.js';
import { Reconciler, type OwnedKind, type ReconcilerOptions } from './reconciler.js';
import { LABEL_FUNCTION, LABEL_MANAGED_BY, MANAGED_BY } from './resources/names.js';
import { FUNCTION_STATES, type FunctionState } from './resources/status.js';
import type { FunctionObject } from './resources/validation.js';
import { WorkQueue } from './workqueue.js';

export interface ControllerOptions extends ReconcilerOptions {
  kubeConfig: KubeConfig;
  /** Watch one namespace; all when undefined. */
  namespace?: string;
  /** Concurrent reconciles (default 8): reconciles wait on the API server, not the CPU. */
  workers?: number;
  /** Re-queue every Function this often (default 10 minutes). */
  resyncMs?: number;
  /** Name of this replica in Events. */
  identity?: string;
  metrics?: ControllerMetrics;
  logger?: Logger;
  cleanup?: (namespace: string, name: string) => Promise<void>;
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

/** What about a Function is worth a reconcile: its own status writes are not. */
function signature(obj: FunctionObject): string {
  const md = obj.metadata ?? {};
  return JSON.stringify([md.generation, md.deletionTimestamp ?? null, md.finalizers ?? [], md.labels ?? {}, md.annotations ?? {}]);
}

function keyOf(md: Meta | undefined, name: string | undefined = md?.name): string | undefined {
  return name === undefined ? undefined : `${md?.namespace ?? 'default'}/${name}`;
}

export class Controller {
  readonly rest: KubeRest;
  readonly queue: WorkQueue;
  readonly #o: ControllerOptions;
  readonly #functions: Informer<FunctionObject & KubernetesObject>;
  readonly #owned: Map<OwnedKind, Informer<WireObject & KubernetesObject>>;
  readonly #pods: Informer<V1Pod>;
  readonly #reconciler: Reconciler;
  readonly #signatures = new Map<string, string>();
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
    this.#functions = new Informer(opts.kubeConfig, this.rest, RESOURCES.Function, { ...ns, onError: onError('Function') });
    this.#owned = new Map(
      (Object.entries(OWNED) as [OwnedKind, Resource][]).map(([kind, r]) => [
        kind,
        new Informer<WireObject & KubernetesObject>(opts.kubeConfig, this.rest, r, { ...ns, labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}`, onError: onError(kind) }),
      ]),
    );
    this.#pods = new Informer<V1Pod>(opts.kubeConfig, this.rest, RESOURCES.Pod, { ...ns, labelSelector: LABEL_FUNCTION, onError: onError('Pod') });

    const events: EventSink = new EventRecorder(this.rest, opts.identity ?? 'hearth-controller', { onError: (err) => log?.warn({ err }, 'event not recorded') });
    this.#reconciler = new Reconciler(
      {
        getFunction: (namespace, name) => this.#functions.get(name, namespace),
        getOwned: (kind, namespace, name) => this.#owned.get(kind)?.get(name, namespace),
        podsOf: (namespace, fnName) => this.#pods.list(namespace).filter((p) => p.metadata?.labels?.[LABEL_FUNCTION] === fnName),
        apply: (obj) => applyObject(this.rest, obj, FIELD_MANAGER),
        remove: (kind, namespace, name) => deleteObject(this.rest, OWNED[kind], namespace, name),
        patchStatus: (namespace, name, status) => patchFunctionStatus(this.rest, namespace, name, status),
        setFinalizers: (namespace, name, f, rv) => setFunctionFinalizers(this.rest, namespace, name, f, rv),
        ...(opts.cleanup !== undefined ? { cleanup: opts.cleanup } : {}),
        events,
        now: () => Date.now(),
        recordState: (key, state) => (state === undefined ? this.#states.delete(key) : this.#states.set(key, state)),
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
    // Owned objects and pods name their function in a label; any change of theirs re-queues it.
    const byLabel = (obj: { metadata?: Meta }): void => {
      const key = keyOf(obj.metadata, obj.metadata?.labels?.[LABEL_FUNCTION]);
      if (key !== undefined) this.queue.add(key);
    };
    for (const inf of [...this.#owned.values(), this.#pods] as Informer<KubernetesObject>[]) inf.on({ add: byLabel, update: byLabel, delete: byLabel });
  }

  /** True once every cache has been listed. */
  get synced(): boolean {
    return this.#started && this.#functions.synced && this.#pods.synced && [...this.#owned.values()].every((i) => i.synced);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    // Owned objects and pods first, so the first reconcile of each Function sees what already exists.
    await Promise.all([...this.#owned.values(), this.#pods].map((i) => (i as Informer<KubernetesObject>).start()));
    await this.#functions.start();
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
  }

  /** Stops watching, lets in-flight reconciles finish and drops what is still queued. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    if (this.#resync) clearInterval(this.#resync);
    await Promise.all([this.#functions, this.#pods, ...this.#owned.values()].map((i) => (i as Informer<KubernetesObject>).stop()));
    await this.queue.shutDown();
    await Promise.all(this.#workers);
    this.rest.close();
  }

  #onFunction(obj: FunctionObject): void {
    const key = keyOf(obj.metadata);
    if (key === undefined) return;
    const sig = signature(obj);
    if (this.#signatures.get(key) === sig) return;
    this.#signatures.set(key, sig);
    this.queue.add(key);
  }

  async #work(): Promise<void> {
    const log = this.#o.logger;
    const m = this.#o.metrics;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const end = m?.reconcileDuration.startTimer();
      try {
        const outcome = await this.#reconciler.reconcile(key);
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

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
