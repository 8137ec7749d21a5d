// One reconcile of one WarmPool: its ServiceAccount, NetworkPolicy and
// Deployment applied where they differ from the cache, the Deployment asked
// for as many idle pods as the pool's recent claims call for, and the
// status (size, ready idle pods, claims) reported. Claims are observed from
// the claimed pods themselves (LABEL_CLAIMED_FROM, ANNOTATION_CLAIMED_AT),
// each pod once, and kept in memory over the rate window; while a claim is
// in that window the pool is looked at again, so its size shrinks back by
// itself. Like the Function reconcile it is level-triggered and idempotent.
import type { V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { WarmPoolSpecSchema, type WarmPoolStatus } from '../api/warm-pool.js';
import type { WireObject } from '../kube/objects.js';
import type { ControllerPoolMetrics } from '../metrics/pools.js';
import { LABEL_CLAIMED_FROM, LABEL_POOL } from '../pools/labels.js';
import { desiredPoolSize } from '../pools/pool-size.js';
import type { EventSink, EventTarget } from './events.js';
import { OwnedSync, type SyncDeps } from './owned-sync.js';
import { splitKey } from './reconciler.js';
import { claimedPodOf, isClaimed } from './resources/claimed.js';
import type { Images } from './resources/images.js';
import { buildPoolDeployment, buildPoolNetworkPolicy, buildPoolServiceAccount, poolObjectName, type PoolInput } from './resources/pool.js';
import { ClaimLog, idleCounts, nextPoolChangeMs, poolStatus, refusedPoolStatus, samePoolStatus } from './resources/pool-status.js';
import type { ReconcileOutcome } from './reconciler.js';

/** A WarmPool as the API server hands it over: unvalidated spec, server metadata. */
export interface PoolObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    deletionTimestamp?: unknown;
    labels?: Record<string, string>;
  };
  spec?: unknown;
  status?: unknown;
}

export interface PoolReconcilerDeps extends SyncDeps {
  getPool(namespace: string, name: string): PoolObject | undefined;
  /** Pool pods of the namespace, idle (LABEL_POOL) or claimed (LABEL_CLAIMED_FROM), of any pool. */
  poolPods(namespace: string): readonly V1Pod[];
  patchPoolStatus(namespace: string, name: string, status: WarmPoolStatus): Promise<void>;
  events: EventSink;
  metrics?: ControllerPoolMetrics;
}

export interface PoolReconcilerOptions {
  images: Images;
  /** Set on every pool pod's agent (the controller's tracing variables). */
  agentEnv?: V1EnvVar[];
  gatewayNamespace: string;
}

const KINDS = ['ServiceAccount', 'NetworkPolicy', 'Deployment'] as const;

export class PoolReconciler {
  readonly #owned: OwnedSync;
  readonly #claims = new Map<string, ClaimLog>();
  /** Each pool's runtime as last seen, to drop its metric series once it is gone. */
  readonly #runtimes = new Map<string, string>();
  /** Claims made before this are not counted in status.claims: "since the controller started leading". */
  readonly #since: number;

  constructor(
    private readonly deps: PoolReconcilerDeps,
    private readonly opts: PoolReconcilerOptions,
  ) {
    this.#owned = new OwnedSync(deps);
    this.#since = deps.now();
  }

  async reconcile(key: string): Promise<ReconcileOutcome> {
    const d = this.deps;
    const [namespace, name] = splitKey(key);
    const obj = d.getPool(namespace, name);
    if (obj === undefined || (obj.metadata?.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null)) {
      // Gone: the garbage collector removes its objects, and with them its idle pods. Claimed pods were never its.
      this.#owned.forget(key);
      this.#claims.delete(key);
      const runtime = this.#runtimes.get(key);
      if (runtime !== undefined) d.metrics?.forget(name, runtime);
      this.#runtimes.delete(key);
      return { result: 'success' };
    }
    const md = obj.metadata ?? {};
    const previous = obj.status as WarmPoolStatus | undefined;
    const now = d.now();
    const ctx = { generation: md.generation, previous, now: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z') };
    const target: EventTarget = { name, namespace, uid: md.uid ?? '', kind: 'WarmPool', ...(md.resourceVersion !== undefined ? { resourceVersion: md.resourceVersion } : {}) };

    const parsed = WarmPoolSpecSchema.safeParse(obj.spec);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; ');
      await this.#report(namespace, name, previous, refusedPoolStatus(ctx, 'InvalidSpec', message), target);
      return { result: 'invalid' };
    }
    const pool: PoolInput = { name, namespace, uid: md.uid ?? '', spec: parsed.data };
    const runtime = pool.spec.runtime;
    this.#runtimes.set(key, runtime);

    // pool-NAME may be a Function's name too: never take over an object another owner controls.
    const objectName = poolObjectName(name);
    const taken = KINDS.find((k) => controllerUidOf(d.getOwned(k, namespace, objectName)) !== undefined && controllerUidOf(d.getOwned(k, namespace, objectName)) !== pool.uid);
    if (taken !== undefined) {
      await this.#report(namespace, name, previous, refusedPoolStatus(ctx, 'NameConflict', `${taken} ${objectName} belongs to another object; rename the WarmPool or that object`), target);
      return { result: 'invalid' };
    }

    // Claims first: they size the pool.
    const pods = d.poolPods(namespace);
    const claimed = pods.filter((p) => isClaimed(p) && p.metadata?.labels?.[LABEL_CLAIMED_FROM] === name).map(claimedPodOf);
    let log = this.#claims.get(key);
    if (log === undefined) this.#claims.set(key, (log = new ClaimLog(this.#since)));
    const counted = log.observe(claimed, now);
    if (counted > 0) d.metrics?.claims.inc({ pool: name, runtime }, counted);
    const claimTimes = log.times();
    const desiredSize = desiredPoolSize({ minSize: pool.spec.minSize, maxSize: pool.spec.maxSize, claimTimes, now });

    let recheckMs: number;
    try {
      const r = await this.#owned.sync(key, namespace, pool.uid, [
        [
          { kind: 'ServiceAccount', obj: buildPoolServiceAccount(pool) as WireObject, name: objectName },
          // Before any pod exists, so none is ever reachable by more than the gateway.
          { kind: 'NetworkPolicy', obj: buildPoolNetworkPolicy(pool, this.opts.gatewayNamespace) as unknown as WireObject, name: objectName },
        ],
        [{ kind: 'Deployment', obj: buildPoolDeployment(pool, { images: this.opts.images, replicas: desiredSize, ...(this.opts.agentEnv ? { agentEnv: this.opts.agentEnv } : {}) }) as WireObject, name: objectName }],
      ]);
      recheckMs = r.recheckMs;
    } catch (err) {
      await this.#report(namespace, name, previous, refusedPoolStatus(ctx, 'ApplyFailed', err instanceof Error ? err.message : String(err)), target);
      throw err;
    }

    const idle = pods.filter((p) => p.metadata?.labels?.[LABEL_POOL] === name);
    const counts = idleCounts(idle);
    d.metrics?.pods.set({ pool: name, runtime, state: 'ready' }, counts.ready);
    d.metrics?.pods.set({ pool: name, runtime, state: 'starting' }, counts.starting);
    d.metrics?.desiredSize.set({ pool: name, runtime }, desiredSize);
    const status = poolStatus({ ...ctx, nowMs: now, desiredSize, idle, claims: log.total, claimTimes, lastClaim: log.last });
    await this.#report(namespace, name, previous, status, target);

    const after = Math.min(recheckMs > 0 ? recheckMs : Infinity, nextPoolChangeMs(claimTimes, now) ?? Infinity);
    return after < Infinity ? { result: 'requeue', afterMs: after } : { result: 'success' };
  }

  async #report(namespace: string, name: string, previous: WarmPoolStatus | undefined, status: WarmPoolStatus, target: EventTarget): Promise<void> {
    if (samePoolStatus(previous, status)) return;
    await this.deps.patchPoolStatus(namespace, name, status);
    const before = previous?.conditions?.find((c) => c.type === 'Ready');
    const after = status.conditions?.find((c) => c.type === 'Ready');
    if (after === undefined || (before?.status === after.status && before.reason === after.reason)) return;
    if (after.status === 'False' && after.reason === 'PodsStarting') return; // ordinary, not news
    this.deps.events.emit(target, after.status === 'True' ? 'Normal' : 'Warning', after.reason ?? 'Ready', after.message ?? '');
  }
}

function controllerUidOf(obj: WireObject | undefined): string | undefined {
  const refs = (obj?.metadata as { ownerReferences?: { uid?: string; controller?: boolean }[] } | undefined)?.ownerReferences ?? [];
  return refs.find((r) => r.controller === true)?.uid;
}
