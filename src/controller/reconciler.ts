// One reconcile of one Function: read what is cached, compute what should
// exist, write only the difference, report the status. It is idempotent and
// level-triggered (it looks at the whole state, never at the event that woke
// it) and never loops: it returns, and the queue decides when to come back.
// A Function's reconcile covers its published versions too: each runs as
// its own Deployment and Service, owned by its FunctionVersion, and the
// Function's status sums them up with its aliases. Each unit's claimed
// warm-pool pods (resources/claimed.ts) count toward its instances: its
// Deployment runs only what they do not cover.
import type { V1Deployment, V1EnvVar, V1Pod, V1Service } from '@kubernetes/client-node';
import { LATEST, type FunctionStatus, type HearthFunction } from '../api/function.js';
import type { FunctionVersion, FunctionVersionStatus } from '../api/function-version.js';
import { describeProblems } from '../api/validate.js';
import type { EventSink, EventTarget } from './events.js';
import type { WireObject } from '../kube/objects.js';
import { configMapRefs, publishedDigest, type ConfigMapContent } from '../store/configmap-copies.js';
import { StoreError } from '../store/function-store.js';
import { aliasProblems, aliasSummary, referencedVersions } from '../versions/alias-problems.js';
import { latestPublished, snapshotOf, versionNumbers, versionsPastRetention } from '../versions/snapshot.js';
import { servingUnits, unitKey } from '../versions/units.js';
import { EXPECTATION_MS, OwnedSync, type Applied, type OwnedKind, type Want } from './owned-sync.js';
import { upToDate, withAppliedHash } from './resources/apply-plan.js';
import { buildCodeConfigMap } from './resources/configmap.js';
import { buildDeployment, terminationGraceSeconds } from './resources/deployment.js';
import { claimedPodOf, isClaimed, orphanedClaims, planClaimed, unitOfPod, type ClaimedDelete, type ClaimedPlan } from './resources/claimed.js';
import { instanceSpecHash } from '../pools/specialization.js';
import type { Images } from './resources/images.js';
import {
  ANNOTATION_CODE_HASH, FINALIZER, codeConfigMapName, desiredInstances, latestUnit, versionSelectorString, versionUnit, type BuildInput, type FunctionMeta, type OwnerReference,
} from './resources/names.js';
import { FUNCTIONS_POLICY, buildFunctionsNetworkPolicy } from './resources/networkpolicy.js';
import { buildService } from './resources/service.js';
import { buildServiceAccount, generatedServiceAccount } from './resources/serviceaccount.js';
import { READY, observedStatus, refusedStatus, sameStatus, scheduleStatus, stateOf, type ClaimedCounts, type FunctionState, type StatusContext } from './resources/status.js';
import { checkFunction, metaOf, type FunctionObject } from './resources/validation.js';
import {
  ALIASES_VALID, aliasChanges, aliasesCondition, publishedSince, refusedVersionStatus, versionStatus, versionsOfFunction,
  type CheckedVersion, type VersionEntry, type VersionObject,
} from './resources/versions.js';

export type { OwnedKind } from './owned-sync.js';

export interface ReconcilerOptions {
  images: Images;
  /** Set on every function pod's agent (the controller's tracing variables). */
  agentEnv?: V1EnvVar[];
  gatewayService: string;
  gatewayNamespace: string;
}

/** Everything a reconcile reads and writes, so it can run against fakes in unit tests. */
export interface ReconcilerDeps {
  getFunction(namespace: string, name: string): FunctionObject | undefined;
  getOwned(kind: OwnedKind, namespace: string, name: string): WireObject | undefined;
  podsOf(namespace: string, functionName: string): readonly V1Pod[];
  /** The FunctionVersions in the namespace whose spec names the function. */
  versionsOf(namespace: string, functionName: string): readonly VersionObject[];
  podsOfVersion(namespace: string, functionName: string, version: string): readonly V1Pod[];
  /** Every claimed warm-pool pod labelled as one of the function's units ($LATEST's or a version's), whether or not that unit exists. */
  claimedPodsOf(namespace: string, functionName: string): readonly V1Pod[];
  /** Deletes a pod if it is still the one of that uid; the pod's own grace period when gracePeriodSeconds is undefined. */
  deletePod(namespace: string, name: string, uid: string, gracePeriodSeconds: number | undefined): Promise<void>;
  /** Makes owner the controller of a pod that has none (a claimed pod its pool's ReplicaSet released). */
  adoptPod(namespace: string, name: string, uid: string, owner: OwnerReference): Promise<void>;
  apply<T extends WireObject>(obj: T): Promise<T>;
  remove(kind: OwnedKind, namespace: string, name: string): Promise<void>;
  patchStatus(namespace: string, name: string, status: FunctionStatus): Promise<void>;
  patchVersionStatus(namespace: string, name: string, status: FunctionVersionStatus): Promise<void>;
  setFinalizers(namespace: string, name: string, finalizers: string[], resourceVersion: string | undefined): Promise<void>;
  /** Deletes the function's Redis keys; absent when the controller has no Redis. */
  cleanup?: (namespace: string, name: string) => Promise<void>;
  /** Publishes the function's code and configuration as a new version (versioning.publishOnChange); absent: never. */
  publish?: (namespace: string, name: string) => Promise<void>;
  /** Deletes a published version (versioning.retain); absent: never. */
  deleteVersion?: (namespace: string, name: string, version: string) => Promise<void>;
  /** A ConfigMap's content, for the digest of the code it holds; absent: code from a ConfigMap is not published on change. */
  readConfigMap?: (namespace: string, name: string) => Promise<ConfigMapContent | undefined>;
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

interface LatestOutcome {
  deployment: V1Deployment | undefined;
  recheckMs: number;
  claimed: ClaimedCounts;
  claimRecheckMs: number;
}

interface VersionOutcome {
  entry?: VersionEntry;
  recheckMs: number;
  /** When a claim settles (0: none is settling). */
  claimRecheckMs?: number;
}

/** The earliest of the delays that are set (0: none), or undefined. */
function soonest(...ms: (number | undefined)[]): number | undefined {
  const set = ms.filter((m): m is number => m !== undefined && m > 0);
  return set.length > 0 ? Math.min(...set) : undefined;
}

function claimedCounts(plan: ClaimedPlan): ClaimedCounts {
  return { replicas: plan.fresh + plan.stale, ready: plan.ready, stale: plan.stale };
}

/** The Deployment as built, asked for `replicas` pods: what the unit's claimed pods do not cover. */
function withReplicas(obj: WireObject, replicas: number): WireObject {
  const dep = obj as V1Deployment;
  return { ...(dep as WireObject), spec: { ...dep.spec, replicas } };
}

export class Reconciler {
  readonly #owned: OwnedSync;
  /** When we last asked to publish each function, and its digest then: the cache may not show the new version yet. */
  readonly #publishing = new Map<string, { digest: string; at: number }>();
  /** Each namespace's policy apply, in flight or done (when), standing in for the cache until it shows it. */
  readonly #policies = new Map<string, { applied: Promise<void>; at?: number }>();

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly opts: ReconcilerOptions,
  ) {
    this.#owned = new OwnedSync(deps);
  }

  async reconcile(key: string): Promise<ReconcileOutcome> {
    const [namespace, name] = splitKey(key);
    const d = this.deps;
    const obj = d.getFunction(namespace, name);
    if (obj === undefined) {
      // Gone: the garbage collector removes what it owned, its versions and theirs.
      this.#owned.forget(key);
      this.#owned.forgetPrefix(`${key}:`);
      this.#publishing.delete(key);
      d.recordState?.(key, undefined);
      // Claimed pods adopted by it go with it (garbage collection); those claimed too late to be adopted go here.
      const orphans = await this.#deleteOrphanedClaims(namespace, name, new Set());
      return orphans > 0 ? { result: 'requeue', afterMs: orphans } : { result: 'success' };
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
    // A new Function's finalizer is written beside its first objects rather than before them (one round
    // trip less before its Deployment): the objects are owned and garbage-collected either way, and the
    // finalizer guards only the Redis keys its invocations write later. Awaited before anything is reported;
    // a conflict (the Function changed meanwhile) fails this reconcile, which is retried.
    const finalizing = finalizers.includes(FINALIZER) ? undefined : d.setFinalizers(namespace, name, [...finalizers, FINALIZER], md.resourceVersion);
    // Only so an apply failing first leaves no unhandled rejection behind: the promise itself is awaited below.
    finalizing?.catch(() => undefined);

    const previous = obj.status as FunctionStatus | undefined;
    const ctx: StatusContext = this.#context(name, namespace, md.generation, previous);

    const checked = checkFunction(obj, this.opts.images);
    if (!checked.ok) {
      await finalizing;
      // Nothing owned is touched: the last good version keeps running, and so do the published ones. The gateways fire no schedule of it.
      await this.#report(target, ctx, { ...refusedStatus(ctx, checked.reason, checked.message), ...scheduleStatus(previous, undefined, d.now()).fields });
      d.recordState?.(key, 'invalid');
      return { result: 'invalid' };
    }

    const fn = checked.fn;
    const meta = metaOf(obj);
    const versions = versionsOfFunction(d.versionsOf(namespace, name), name, meta.uid, this.opts.images);
    const valid = versions.flatMap((v) => (v.ok ? [v.version] : []));
    const schedules = scheduleStatus(previous, fn.spec.schedules, d.now());
    let latest: LatestOutcome;
    let published: VersionOutcome[];
    try {
      latest = await this.#applyLatest({ fn, meta }, target, valid);
      published = await this.#applyVersions(key, fn, meta, versions, valid);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await this.#report(target, ctx, { ...refusedStatus(ctx, 'ApplyFailed', message), ...schedules.fields });
      d.recordState?.(key, 'failing');
      throw err;
    }
    await finalizing;
    const observed = observedStatus(ctx, desiredInstances(fn), latest.deployment, d.podsOf(namespace, name), latest.claimed);
    const entries = published.flatMap((p) => (p.entry !== undefined ? [p.entry] : []));
    const summary = aliasSummary(fn);
    const problems = aliasProblems(fn, versionNumbers(valid));
    const status: FunctionStatus = {
      ...observed,
      conditions: [...(observed.conditions ?? []), aliasesCondition(ctx, problems)],
      ...schedules.fields,
      // A merge patch leaves out what is absent: an emptied list or summary is written empty, not left out.
      ...(entries.length > 0 || previous?.versions !== undefined ? { versions: entries } : {}),
      ...(summary !== undefined || previous?.aliases !== undefined ? { aliases: summary ?? '' } : {}),
    };
    await this.#report(target, ctx, status);
    d.recordState?.(key, stateOf(status));
    await this.#versioning(key, fn, valid, target);
    // Back once the earliest next run time has passed, to show the one after it.
    const recheckMs = Math.max(latest.recheckMs, ...published.map((p) => p.recheckMs));
    // Back when a new claim has settled, and when a claimed pod of a unit that does not exist may go.
    const orphanMs = await this.#deleteOrphanedClaims(namespace, name, new Set([unitKey(name, LATEST), ...valid.map((v) => unitKey(name, v.spec.version))]));
    const claimMs = soonest(latest.claimRecheckMs, ...published.map((p) => p.claimRecheckMs), orphanMs);
    const afterMs = Math.min(recheckMs > 0 ? recheckMs : Infinity, schedules.refreshInMs ?? Infinity, claimMs ?? Infinity);
    return afterMs < Infinity ? { result: 'requeue', afterMs } : { result: 'success' };
  }

  /** What the status builders need of one object (a Function, or a FunctionVersion) and of this reconcile. */
  #context(name: string, namespace: string, generation: number | undefined, previous: StatusContext['previous']): StatusContext {
    return {
      name,
      namespace,
      generation,
      previous,
      gatewayService: this.opts.gatewayService,
      gatewayNamespace: this.opts.gatewayNamespace,
      now: new Date(this.deps.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
  }

  /**
   * The namespace's NetworkPolicy, in place before any Deployment of it is
   * applied. Read from the cache; applied at most once at a time per
   * namespace (a burst of new Functions waits on one apply), and again when
   * the cache, given time to catch up, shows it missing or changed. Returns
   * when to look again (0: the cache shows it as applied).
   */
  async #ensureFunctionsPolicy(namespace: string): Promise<number> {
    const d = this.deps;
    const want = withAppliedHash(buildFunctionsNetworkPolicy(namespace, this.opts.gatewayNamespace) as unknown as WireObject);
    if (upToDate(want, d.getOwned('NetworkPolicy', namespace, FUNCTIONS_POLICY))) {
      this.#policies.delete(namespace);
      return 0;
    }
    let known = this.#policies.get(namespace);
    if (known === undefined || (known.at !== undefined && d.now() - known.at >= EXPECTATION_MS)) {
      const entry: { applied: Promise<void>; at?: number } = {
        applied: d.apply(want).then(
          () => {
            entry.at = d.now();
          },
          (err: unknown) => {
            this.#policies.delete(namespace);
            throw err;
          },
        ),
      };
      this.#policies.set(namespace, (known = entry));
    }
    // An apply in flight (ours or another reconcile's) is trusted once it answers, as OwnedSync trusts its
    // own; one that answered a while ago but is still not in the cache is looked at again once it would be.
    const at = known.at;
    await known.applied;
    return at === undefined ? 0 : Math.max(1, EXPECTATION_MS - (d.now() - at));
  }

  /** Applies $LATEST's objects where they differ from the cache and removes what is no longer wanted; returns its Deployment as it now is. */
  async #applyLatest(input: BuildInput, target: EventTarget, versions: readonly FunctionVersion[]): Promise<LatestOutcome> {
    const d = this.deps;
    const { namespace, name } = input.meta;
    const claimed = d.podsOf(namespace, name).filter(isClaimed);
    const replicas = this.#planClaimed(input.fn, claimed, d.getOwned('Deployment', namespace, name) as V1Deployment | undefined).deploymentReplicas;
    // Published versions that named no ServiceAccount run as the Function's own: it stays while they do.
    const serviceAccount = buildServiceAccount(input) ?? (versions.some((v) => v.spec.snapshot.serviceAccountName === undefined) ? generatedServiceAccount(input.meta) : undefined);
    const policyRecheckMs = await this.#ensureFunctionsPolicy(namespace);
    const first: Want[] = [
      { kind: 'ServiceAccount', obj: serviceAccount as WireObject | undefined, name },
      { kind: 'ConfigMap', obj: buildCodeConfigMap(input) as WireObject | undefined, name: codeConfigMapName(name), keep: namesConfigMap(input.fn, codeConfigMapName(name)) },
    ];
    const rest: Want[] = [
      { kind: 'Deployment', obj: withReplicas(buildDeployment(input, { images: this.opts.images, ...(this.opts.agentEnv ? { agentEnv: this.opts.agentEnv } : {}) }) as WireObject, replicas), name },
      { kind: 'Service', obj: buildService(input, d.getOwned('Service', namespace, name) as V1Service | undefined) as WireObject, name },
      // Each function once had a policy of its own; the namespace's one stands for them (ensured above).
      { kind: 'NetworkPolicy', obj: undefined, name },
    ];
    const onApplied = (a: Applied): void => {
      if (a.want.kind !== 'Deployment') return;
      if (a.cached === undefined && !a.wasExpected) d.events.emit(target, 'Normal', 'Created', `created Deployment ${name} and the objects it needs`);
      else if (a.cached !== undefined && codeHashOf(a.cached) !== codeHashOf(a.obj)) d.events.emit(target, 'Normal', 'RollingOut', 'the code changed; rolling out new instances');
    };
    const r = await this.#owned.sync(`${namespace}/${name}`, namespace, input.meta.uid, [first, rest], onApplied);
    // Our own apply first, where the cache has not caught up with it: a cached Deployment of the previous
    // template, its rollout long complete, would report Updated for code not yet rolled out.
    const deployment = (r.pending.get(`Deployment/${name}`) ?? d.getOwned('Deployment', namespace, name)) as V1Deployment | undefined;
    const plan = this.#planClaimed(input.fn, claimed, deployment);
    await this.#actOnClaimed(namespace, plan, latestUnit(input.meta).owner, input.fn, target);
    return { deployment, recheckMs: Math.max(r.recheckMs, policyRecheckMs), claimed: claimedCounts(plan), claimRecheckMs: plan.recheckMs };
  }

  /** What a unit's claimed pods cover, and which to delete or adopt, given its Deployment as it is. */
  #planClaimed(fn: HearthFunction, claimed: readonly V1Pod[], deployment: V1Deployment | undefined): ClaimedPlan {
    return planClaimed({ desired: desiredInstances(fn), specHash: instanceSpecHash(fn.spec), pods: claimed.map(claimedPodOf), deployment, now: this.deps.now() });
  }

  /** Deletes what the plan says (each pod with the grace its unit's calls need) and adopts the released. */
  async #actOnClaimed(namespace: string, plan: ClaimedPlan, owner: OwnerReference, fn: HearthFunction, target: EventTarget): Promise<void> {
    const d = this.deps;
    const grace = terminationGraceSeconds(fn.spec.timeoutSeconds);
    await Promise.all([
      ...plan.delete.map((p) => d.deletePod(namespace, p.name, p.uid, grace)),
      ...plan.adopt.map((p) => d.adoptPod(namespace, p.name, p.uid, owner)),
    ]);
    const failed = plan.delete.filter((p) => p.reason === 'failed');
    if (failed.length > 0) d.events.emit(target, 'Warning', 'SpecializationFailed', `deleted claimed warm-pool pod${failed.length === 1 ? '' : 's'} ${names(failed)}: the gateway could not specialise ${failed.length === 1 ? 'it' : 'them'}`);
  }

  /**
   * Deletes the function's claimed pods whose unit (its $LATEST or a
   * version, by their labels) is not among `units`, once CLAIM_ORPHAN_MS
   * have passed since their claim; returns when to look again (0: never).
   */
  async #deleteOrphanedClaims(namespace: string, name: string, units: ReadonlySet<string>): Promise<number> {
    const d = this.deps;
    const pods = d.claimedPodsOf(namespace, name).map((p) => ({ unit: unitOfPod(p), pod: claimedPodOf(p) }));
    if (pods.length === 0) return 0;
    const r = orphanedClaims(pods, units, d.now());
    // The unit's timeout is unknown: each pod's own grace (its pool's, for the longest call).
    await Promise.all(r.delete.map((p) => d.deletePod(namespace, p.name, p.uid, undefined)));
    return r.recheckMs;
  }

  /** Runs each published version from its own objects and reports its status; a version's objects change only when they drift from its snapshot. */
  async #applyVersions(key: string, fn: HearthFunction, meta: FunctionMeta, versions: readonly CheckedVersion[], valid: readonly FunctionVersion[]): Promise<VersionOutcome[]> {
    // What each version runs: its snapshot, the minimum its aliases ask for, the function-wide reserved concurrency.
    const units = new Map(servingUnits(fn, valid).map((u) => [u.metadata.name, u]));
    return Promise.all(versions.map((v) => this.#applyVersion(key, meta, v, units)));
  }

  async #applyVersion(key: string, meta: FunctionMeta, checked: CheckedVersion, units: ReadonlyMap<string, HearthFunction>): Promise<VersionOutcome> {
    const d = this.deps;
    const { namespace, name: fnName } = meta;
    const vmd = checked.obj.metadata ?? {};
    const objectName = vmd.name ?? '';
    const previous = checked.obj.status as FunctionVersionStatus | undefined;
    const ctx: StatusContext = this.#context(objectName, namespace, vmd.generation, previous);
    const numberOf = String((checked.obj.spec as { version?: unknown } | undefined)?.version ?? '');
    if (!checked.ok) {
      await this.#reportVersion(namespace, objectName, previous, refusedVersionStatus(ctx, versionSelectorString(fnName, numberOf), checked.reason, checked.message));
      return { recheckMs: 0 };
    }
    const fv = checked.version.spec;
    const unit = units.get(unitKey(fnName, fv.version));
    if (unit === undefined) return { recheckMs: 0 };
    // Its replicas are the FunctionVersion's own (the scale subresource), else the minimum its aliases ask for.
    const { replicas: _snapshotReplicas, ...runs } = unit.spec;
    const spec = { ...runs, ...(fv.replicas !== undefined ? { replicas: fv.replicas } : {}) };
    const identity = versionUnit(fnName, fv.version, namespace, { name: objectName, uid: vmd.uid ?? '' });
    const input: BuildInput = { fn: { ...unit, spec }, meta, unit: identity };
    const codeMap = codeConfigMapName(identity.objectName);
    const claimed = d.podsOfVersion(namespace, fnName, fv.version).filter(isClaimed);
    const replicas = this.#planClaimed(input.fn, claimed, d.getOwned('Deployment', namespace, identity.objectName) as V1Deployment | undefined).deploymentReplicas;
    const policyRecheckMs = await this.#ensureFunctionsPolicy(namespace);
    const r = await this.#owned.sync(`${key}:${fv.version}`, namespace, vmd.uid ?? '', [
      [{ kind: 'ConfigMap', obj: buildCodeConfigMap(input) as WireObject | undefined, name: codeMap, keep: namesConfigMap(input.fn, codeMap) }],
      [
        { kind: 'Deployment', obj: withReplicas(buildDeployment(input, { images: this.opts.images, ...(this.opts.agentEnv ? { agentEnv: this.opts.agentEnv } : {}) }) as WireObject, replicas), name: identity.objectName },
        { kind: 'Service', obj: buildService(input, d.getOwned('Service', namespace, identity.objectName) as V1Service | undefined) as WireObject, name: identity.objectName },
        { kind: 'NetworkPolicy', obj: undefined, name: identity.objectName },
      ],
    ]);
    const deployment = (d.getOwned('Deployment', namespace, identity.objectName) ?? r.pending.get(`Deployment/${identity.objectName}`)) as V1Deployment | undefined;
    const desired = desiredInstances(input.fn);
    const plan = this.#planClaimed(input.fn, claimed, deployment);
    const target: EventTarget = { name: objectName, namespace, uid: vmd.uid ?? '', kind: 'FunctionVersion', ...(vmd.resourceVersion !== undefined ? { resourceVersion: vmd.resourceVersion } : {}) };
    await this.#actOnClaimed(namespace, plan, identity.owner, input.fn, target);
    const status = versionStatus(ctx, versionSelectorString(fnName, fv.version), desired, deployment, d.podsOfVersion(namespace, fnName, fv.version), claimedCounts(plan));
    await this.#reportVersion(namespace, objectName, previous, status);
    return { entry: { version: fv.version, readyInstances: status.readyInstances ?? 0, desiredInstances: desired }, recheckMs: Math.max(r.recheckMs, policyRecheckMs), claimRecheckMs: plan.recheckMs };
  }

  async #reportVersion(namespace: string, name: string, previous: FunctionVersionStatus | undefined, status: FunctionVersionStatus): Promise<void> {
    if (sameStatus(previous, status)) return;
    await this.deps.patchVersionStatus(namespace, name, status);
  }

  /**
   * Publishes on change and deletes versions past the retention count. A
   * publish is asked for when the function's snapshot digest (the store's:
   * the snapshot and the bytes of the ConfigMaps it names) differs from the
   * latest version's; the store itself returns the latest version when
   * nothing changed, so an ask the cache has not caught up with yet is
   * harmless, and is not repeated for a while.
   */
  async #versioning(key: string, fn: HearthFunction, valid: readonly FunctionVersion[], target: EventTarget): Promise<void> {
    const d = this.deps;
    const [namespace, name] = splitKey(key);
    if (fn.spec.versioning.publishOnChange && d.publish !== undefined) {
      const digest = await this.#digest(namespace, fn);
      const latest = latestPublished(valid);
      const asked = this.#publishing.get(key);
      if (digest !== undefined && latest?.spec.codeSha256 !== digest && !(asked?.digest === digest && d.now() - asked.at < EXPECTATION_MS)) {
        this.#publishing.set(key, { digest, at: d.now() });
        try {
          await d.publish(namespace, name);
        } catch (err) {
          if (!(err instanceof StoreError) || err.kind !== 'invalid') throw err;
          // Nothing to retry until the function or the ConfigMaps it names change.
          d.events.emit(target, 'Warning', 'PublishFailed', err.problems.length > 0 ? describeProblems(err.problems) : err.message);
        }
      }
    }
    const retain = fn.spec.versioning.retain;
    if (retain !== undefined && d.deleteVersion !== undefined) {
      for (const v of versionsPastRetention(valid, retain, referencedVersions(fn))) {
        try {
          await d.deleteVersion(namespace, name, v.spec.version);
        } catch (err) {
          // Gone already, or an alias was pointed at it meanwhile: it stays, and the next reconcile judges again.
          if (err instanceof StoreError && (err.kind === 'not-found' || err.kind === 'conflict')) continue;
          throw err;
        }
        d.events.emit(target, 'Normal', 'VersionDeleted', `deleted version ${v.spec.version}: more than ${retain} versions are kept (versioning.retain)`);
      }
    }
  }

  /** The digest the store would give the function's current snapshot; undefined when it cannot be known (a ConfigMap missing or unreadable here). */
  async #digest(namespace: string, fn: HearthFunction): Promise<string | undefined> {
    const snapshot = snapshotOf(fn.spec);
    const refs = configMapRefs(snapshot);
    const read = this.deps.readConfigMap;
    if (refs.length > 0 && read === undefined) return undefined;
    const originals = await Promise.all(refs.map((r) => read?.(namespace, r.name)));
    const { digest, problems } = publishedDigest(snapshot, originals);
    return problems.length > 0 ? undefined : digest;
  }

  /** Writes the status if it changed, with Events when readiness, versions or aliases change. */
  async #report(target: EventTarget, ctx: StatusContext, status: FunctionStatus): Promise<void> {
    // latestVersion is the store's number counter: never written here (a merge patch keeps it), so not compared either.
    const previous = ctx.previous !== undefined ? { ...ctx.previous, latestVersion: undefined } : undefined;
    if (sameStatus(previous, status)) return;
    await this.deps.patchStatus(ctx.namespace, ctx.name, status);
    const events = this.deps.events;
    if (status.versions !== undefined) {
      for (const v of publishedSince(ctx.previous, status.versions)) events.emit(target, 'Normal', 'Published', `published version ${v}`);
    }
    if (status.aliases !== undefined) {
      const changes = aliasChanges(ctx.previous?.aliases, status.aliases);
      if (changes.length > 0) events.emit(target, 'Normal', 'AliasChanged', changes.join('; '));
    }
    const aliasesBefore = ctx.previous?.conditions?.find((c) => c.type === ALIASES_VALID);
    const aliasesAfter = status.conditions?.find((c) => c.type === ALIASES_VALID);
    if (aliasesAfter?.status === 'False' && (aliasesBefore?.status !== 'False' || aliasesBefore.message !== aliasesAfter.message)) {
      events.emit(target, 'Warning', aliasesAfter.reason ?? ALIASES_VALID, aliasesAfter.message ?? '');
    }
    const before = ctx.previous?.conditions?.find((c) => c.type === READY);
    const after = status.conditions?.find((c) => c.type === READY);
    if (after === undefined || (before?.status === after.status && before.reason === after.reason)) return;
    const type = after.status === 'True' ? 'Normal' : 'Warning';
    if (after.status === 'False' && after.reason === 'InstancesStarting') return; // ordinary, not news
    events.emit(target, type, after.reason ?? READY, after.message ?? '');
  }
}

function codeHashOf(obj: WireObject | undefined): string | undefined {
  return (obj as V1Deployment | undefined)?.spec?.template.metadata?.annotations?.[ANNOTATION_CODE_HASH];
}

/** Whether the spec reads code from this ConfigMap (then it is never removed as unwanted, whoever made it). */
function namesConfigMap(fn: HearthFunction, name: string): boolean {
  return configMapRefs(fn.spec).some((r) => r.name === name);
}

function names(pods: readonly ClaimedDelete[]): string {
  return pods.map((p) => p.name).join(', ');
}
