// One reconcile of one Function: read what is cached, compute what should
// exist, write only the difference, report the status. It is idempotent and
// level-triggered (it looks at the whole state, never at the event that woke
// it) and never loops: it returns, and the queue decides when to come back.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { FunctionStatus } from '../api/function.js';
import type { EventSink, EventTarget } from './events.js';
import type { WireObject } from '../kube/objects.js';
import { upToDate, withAppliedHash } from './resources/apply-plan.js';
import { buildCodeConfigMap } from './resources/configmap.js';
import { buildDeployment } from './resources/deployment.js';
import type { Images } from './resources/images.js';
import { ANNOTATION_CODE_HASH, FINALIZER, codeConfigMapName, desiredInstances, type BuildInput } from './resources/names.js';
import { buildNetworkPolicy } from './resources/networkpolicy.js';
import { buildService } from './resources/service.js';
import { buildServiceAccount } from './resources/serviceaccount.js';
import { READY, observedStatus, refusedStatus, sameStatus, scheduleStatus, stateOf, type FunctionState, type StatusContext } from './resources/status.js';
import { checkFunction, metaOf, type FunctionObject } from './resources/validation.js';

export type OwnedKind = 'Deployment' | 'Service' | 'ConfigMap' | 'ServiceAccount' | 'NetworkPolicy';

export interface ReconcilerOptions {
  images: Images;
  gatewayService: string;
  gatewayNamespace: string;
}

/** Everything a reconcile reads and writes, so it can run against fakes in unit tests. */
export interface ReconcilerDeps {
  getFunction(namespace: string, name: string): FunctionObject | undefined;
  getOwned(kind: OwnedKind, namespace: string, name: string): WireObject | undefined;
  podsOf(namespace: string, functionName: string): readonly V1Pod[];
  apply<T extends WireObject>(obj: T): Promise<T>;
  remove(kind: OwnedKind, namespace: string, name: string): Promise<void>;
  patchStatus(namespace: string, name: string, status: FunctionStatus): Promise<void>;
  setFinalizers(namespace: string, name: string, finalizers: string[], resourceVersion: string | undefined): Promise<void>;
  /** Deletes the function's Redis keys; absent when the controller has no Redis. */
  cleanup?: (namespace: string, name: string) => Promise<void>;
  events: EventSink;
  now(): number;
  /** Told the state of each function after its reconcile (undefined once it is gone). */
  recordState?: (key: string, state: FunctionState | undefined) => void;
}

export type ReconcileOutcome = { result: 'success' | 'invalid' } | { result: 'requeue'; afterMs: number };

export function splitKey(key: string): [namespace: string, name: string] {
  const i = key.indexOf('/');
  return i < 0 ? ['default', key] : [key.slice(0, i), key.slice(i + 1)];
}

/** How long the result of an apply stands in for an informer cache that has not seen it yet. */
const EXPECTATION_MS = 5_000;

export class Reconciler {
  /** Our latest applies not yet known to be in the cache, by function key, then kind/name. */
  readonly #expected = new Map<string, Map<string, { obj: WireObject; at: number }>>();

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly opts: ReconcilerOptions,
  ) {}

  async reconcile(key: string): Promise<ReconcileOutcome> {
    const [namespace, name] = splitKey(key);
    const d = this.deps;
    const obj = d.getFunction(namespace, name);
    if (obj === undefined) {
      // Gone: the garbage collector removes what it owned.
      this.#expected.delete(key);
      d.recordState?.(key, undefined);
      return { result: 'success' };
    }
    const md = obj.metadata ?? {};
    const finalizers = md.finalizers ?? [];
    const target: EventTarget = { name, namespace, uid: md.uid ?? '', ...(md.resourceVersion !== undefined ? { resourceVersion: md.resourceVersion } : {}) };

    if (md.deletionTimestamp !== undefined && md.deletionTimestamp !== null) {
      d.recordState?.(key, 'deleting');
      if (finalizers.includes(FINALIZER)) {
        await d.cleanup?.(namespace, name);
        await d.setFinalizers(namespace, name, finalizers.filter((f) => f !== FINALIZER), md.resourceVersion);
      }
      return { result: 'success' };
    }
    if (!finalizers.includes(FINALIZER)) await d.setFinalizers(namespace, name, [...finalizers, FINALIZER], md.resourceVersion);

    const previous = obj.status as FunctionStatus | undefined;
    const ctx: StatusContext = {
      name,
      namespace,
      generation: md.generation,
      previous,
      gatewayService: this.opts.gatewayService,
      gatewayNamespace: this.opts.gatewayNamespace,
      now: new Date(d.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };

    const checked = checkFunction(obj, this.opts.images);
    if (!checked.ok) {
      // Nothing owned is touched: the last good version keeps running. The gateways fire no schedule of it.
      await this.#report(target, ctx, { ...refusedStatus(ctx, checked.reason, checked.message), ...scheduleStatus(previous, undefined, d.now()).fields });
      d.recordState?.(key, 'invalid');
      return { result: 'invalid' };
    }

    const input: BuildInput = { fn: checked.fn, meta: metaOf(obj) };
    const schedules = scheduleStatus(previous, checked.fn.spec.schedules, d.now());
    let applied: { deployment: V1Deployment | undefined; recheckMs: number };
    try {
      applied = await this.#applyOwned(input, target);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await this.#report(target, ctx, { ...refusedStatus(ctx, 'ApplyFailed', message), ...schedules.fields });
      d.recordState?.(key, 'failing');
      throw err;
    }
    const status = { ...observedStatus(ctx, desiredInstances(checked.fn), applied.deployment, d.podsOf(namespace, name)), ...schedules.fields };
    await this.#report(target, ctx, status);
    d.recordState?.(key, stateOf(status));
    // Back once the earliest next run time has passed, to show the one after it.
    const afterMs = Math.min(applied.recheckMs > 0 ? applied.recheckMs : Infinity, schedules.refreshInMs ?? Infinity);
    return afterMs < Infinity ? { result: 'requeue', afterMs } : { result: 'success' };
  }

  /** Applies what differs from the cache and removes what is no longer wanted; returns the Deployment as it now is. */
  async #applyOwned(input: BuildInput, target: EventTarget): Promise<{ deployment: V1Deployment | undefined; recheckMs: number }> {
    const d = this.deps;
    const { namespace, name } = input.meta;
    const desired: { kind: OwnedKind; obj: WireObject | undefined; name: string }[] = [
      { kind: 'ServiceAccount', obj: buildServiceAccount(input) as WireObject | undefined, name },
      { kind: 'ConfigMap', obj: buildCodeConfigMap(input) as WireObject | undefined, name: codeConfigMapName(name) },
      { kind: 'Deployment', obj: buildDeployment(input, { images: this.opts.images }) as WireObject, name },
      { kind: 'Service', obj: buildService(input) as WireObject, name },
      { kind: 'NetworkPolicy', obj: buildNetworkPolicy(input, this.opts.gatewayNamespace) as unknown as WireObject, name },
    ];
    let deployment = d.getOwned('Deployment', namespace, name) as V1Deployment | undefined;
    let recheckMs = 0;
    const fnKey = `${namespace}/${name}`;
    const sync = async (want: (typeof desired)[number]): Promise<void> => {
      const id = `${want.kind}/${want.name}`;
      const cached = d.getOwned(want.kind, namespace, want.name);
      if (want.obj === undefined) {
        // No longer wanted (the spec now names a ServiceAccount, or the code left inline).
        this.#expected.get(fnKey)?.delete(id);
        if (cached !== undefined && ownedBy(cached, input.meta.uid)) await d.remove(want.kind, namespace, want.name);
        return;
      }
      const obj = withAppliedHash(want.obj);
      if (upToDate(obj, cached)) {
        this.#expected.get(fnKey)?.delete(id);
        return;
      }
      // The cache may not have caught up with our own last apply yet: trust that apply for a
      // while, and look again once it would have (a hand edit meanwhile is then repaired).
      const expected = this.#expected.get(fnKey)?.get(id);
      const age = d.now() - (expected?.at ?? 0);
      if (expected !== undefined && age < EXPECTATION_MS && upToDate(obj, expected.obj)) {
        recheckMs = Math.max(recheckMs, EXPECTATION_MS - age);
        if (want.kind === 'Deployment') deployment ??= expected.obj as V1Deployment;
        return;
      }
      const applied = await d.apply(obj);
      let forFn = this.#expected.get(fnKey);
      if (forFn === undefined) this.#expected.set(fnKey, (forFn = new Map()));
      forFn.set(id, { obj: applied, at: d.now() });
      if (want.kind !== 'Deployment') return;
      deployment ??= applied as V1Deployment;
      if (cached === undefined && expected === undefined) d.events.emit(target, 'Normal', 'Created', `created Deployment ${name} and the objects it needs`);
      else if (cached !== undefined && codeHashOf(cached) !== codeHashOf(obj)) d.events.emit(target, 'Normal', 'RollingOut', 'the code changed; rolling out new instances');
    };
    // What pods mount or run as comes first (a pod created before its ServiceAccount is refused
    // and retried with backoff); the rest goes in parallel, as reconciles are round-trip bound.
    await Promise.all(desired.slice(0, 2).map(sync));
    await Promise.all(desired.slice(2).map(sync));
    if (this.#expected.get(fnKey)?.size === 0) this.#expected.delete(fnKey);
    return { deployment, recheckMs };
  }

  /** Writes the status if it changed, with an Event when readiness changes. */
  async #report(target: EventTarget, ctx: StatusContext, status: FunctionStatus): Promise<void> {
    if (sameStatus(ctx.previous, status)) return;
    await this.deps.patchStatus(ctx.namespace, ctx.name, status);
    const before = ctx.previous?.conditions?.find((c) => c.type === READY);
    const after = status.conditions?.find((c) => c.type === READY);
    if (after === undefined || (before?.status === after.status && before.reason === after.reason)) return;
    const type = after.status === 'True' ? 'Normal' : 'Warning';
    if (after.status === 'False' && after.reason === 'InstancesStarting') return; // ordinary, not news
    this.deps.events.emit(target, type, after.reason ?? READY, after.message ?? '');
  }
}

function codeHashOf(obj: WireObject | undefined): string | undefined {
  return (obj as V1Deployment | undefined)?.spec?.template.metadata?.annotations?.[ANNOTATION_CODE_HASH];
}

function ownedBy(obj: WireObject, uid: string): boolean {
  const refs = (obj.metadata as { ownerReferences?: { uid?: string }[] } | undefined)?.ownerReferences ?? [];
  return refs.some((r) => r.uid === uid);
}
