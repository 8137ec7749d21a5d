// The Function reconcile's side of warm pools, against an API server in
// memory: a unit's claimed pods count toward its instances, its Deployment
// runs only what they do not cover, and the reconcile deletes, adopts and
// reports them as resources/claimed.ts decides.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { FunctionSchema, type FunctionStatus } from '../../src/api/function.js';
import type { FunctionVersionStatus } from '../../src/api/function-version.js';
import { Reconciler, type OwnedKind, type ReconcilerDeps } from '../../src/controller/reconciler.js';
import { CLAIM_ORPHAN_MS, CLAIM_SETTLE_MS } from '../../src/controller/resources/claimed.js';
import { terminationGraceSeconds } from '../../src/controller/resources/deployment.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { FINALIZER } from '../../src/controller/resources/names.js';
import type { FunctionObject } from '../../src/controller/resources/validation.js';
import type { VersionObject } from '../../src/controller/resources/versions.js';
import type { WireObject } from '../../src/kube/objects.js';
import { claimPatch, poolPodLabels } from '../../src/pools/labels.js';
import { instanceSpecHash } from '../../src/pools/specialization.js';
import { snapshotDigest, snapshotOf } from '../../src/versions/snapshot.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const code = (body: string) => ({ inline: { 'app.py': `def handler(e, c):\n    return ${body}\n` } });
const spec = (body = '1', extra: Record<string, unknown> = {}) => ({ runtime: 'python3.12', handler: 'app.handler', code: code(body), timeoutSeconds: 30, ...extra });
const hashOf = (s: Record<string, unknown>) => instanceSpecHash(FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' }, spec: s }).spec);

/** A pool pod as a gateway's claim leaves it: the claim patch applied, still controlled by its pool's ReplicaSet unless released. */
function claimed(name: string, unit: string, specHash: string, o: { at?: number; released?: boolean; cost?: number; ready?: boolean } = {}): V1Pod {
  const patch = claimPatch({ resourceVersion: '1', pool: 'python', unit, specHash, claimedBy: 'gw', now: o.at ?? T0 - 60_000 });
  const labels: Record<string, string> = { ...poolPodLabels('python', 'python'), 'pod-template-hash': 'abc' };
  for (const [k, v] of Object.entries(patch.metadata.labels)) {
    if (v === null) delete labels[k];
    else labels[k] = v;
  }
  return {
    metadata: {
      name, uid: `uid-${name}`, labels,
      annotations: { ...patch.metadata.annotations, ...(o.cost !== undefined ? { 'controller.kubernetes.io/pod-deletion-cost': String(o.cost) } : {}) },
      ownerReferences: o.released ? [] : [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'pool-python-abc', uid: 'uid-rs', controller: true }],
    },
    status: { conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

function versionObject(n: string, snapshotSpec: Record<string, unknown>): VersionObject {
  const fn = FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' }, spec: snapshotSpec });
  return {
    apiVersion: 'hearth.dev/v1alpha1', kind: 'FunctionVersion',
    metadata: { name: `f-v${n}`, namespace: 'n', uid: `uid-v${n}`, generation: 1, labels: { 'hearth.dev/version-of': 'f', 'hearth.dev/version': n }, ownerReferences: [{ kind: 'Function', uid: 'uid-f' }] },
    spec: { function: 'f', version: n, codeSha256: snapshotDigest(snapshotOf(fn.spec), ''), snapshot: snapshotOf(fn.spec) },
  };
}

function fakeCluster(fnSpec: Record<string, unknown>, versions: VersionObject[] = []) {
  const fn: FunctionObject = {
    apiVersion: 'hearth.dev/v1alpha1', kind: 'Function',
    metadata: { name: 'f', namespace: 'n', uid: 'uid-f', generation: 1, resourceVersion: '1', finalizers: [FINALIZER] },
    spec: fnSpec,
  };
  const owned = new Map<string, WireObject>();
  const pods: V1Pod[] = [];
  const calls: string[] = [];
  const events: string[] = [];
  const versionStatuses = new Map<string, FunctionVersionStatus>();
  const clock = { t: T0 };
  const cluster = { exists: true, available: true };
  const labelled = (p: V1Pod, k: string, v: string) => p.metadata?.labels?.[k] === v;
  const deps: ReconcilerDeps = {
    getFunction: () => (cluster.exists ? fn : undefined),
    getOwned: (kind, _ns, name) => owned.get(`${kind}/${name}`),
    podsOf: (_ns, name) => pods.filter((p) => labelled(p, 'hearth.dev/function', name)),
    versionsOf: () => versions,
    podsOfVersion: (_ns, name, v) => pods.filter((p) => labelled(p, 'hearth.dev/version-of', name) && labelled(p, 'hearth.dev/version', v)),
    claimedPodsOf: (_ns, name) => pods.filter((p) => labelled(p, 'hearth.dev/claimed', 'true') && (labelled(p, 'hearth.dev/function', name) || labelled(p, 'hearth.dev/version-of', name))),
    deletePod: async (_ns, name, _uid, grace) => {
      calls.push(`delete ${name}${grace !== undefined ? ` grace ${grace}` : ''}`);
      const p = pods.find((x) => x.metadata?.name === name);
      if (p?.metadata !== undefined) p.metadata.deletionTimestamp = new Date(clock.t);
    },
    adoptPod: async (_ns, name, _uid, owner) => {
      calls.push(`adopt ${name} by ${owner.kind}/${owner.name}`);
      const p = pods.find((x) => x.metadata?.name === name);
      if (p?.metadata !== undefined) p.metadata.ownerReferences = [{ ...owner }];
    },
    apply: async (obj) => {
      const key = `${String(obj.kind)}/${String(obj.metadata?.name)}`;
      if (obj.kind === 'Deployment') calls.push(`apply ${key} replicas ${(obj as V1Deployment).spec?.replicas ?? '?'}`);
      const r = (obj as V1Deployment).spec?.replicas ?? 0;
      const stored = { ...obj, status: obj.kind === 'Deployment' ? { replicas: r, readyReplicas: r, updatedReplicas: r, availableReplicas: cluster.available ? r : 0 } : undefined };
      owned.set(key, stored);
      return stored;
    },
    remove: async (kind: OwnedKind, _ns, name) => {
      owned.delete(`${kind}/${name}`);
    },
    patchStatus: async (_ns, _name, status) => {
      fn.status = { ...(fn.status as FunctionStatus | undefined), ...status };
    },
    patchVersionStatus: async (_ns, name, status) => {
      versionStatuses.set(name, status);
      const v = versions.find((x) => x.metadata?.name === name);
      if (v !== undefined) v.status = status;
    },
    setFinalizers: async () => undefined,
    events: { emit: (_t, type, reason, message) => events.push(`${type} ${reason}: ${message}`) },
    now: () => clock.t,
  };
  const reconciler = new Reconciler(deps, { images: defaultImages('t'), gatewayService: 'gw', gatewayNamespace: 'hs' });
  const replicasOf = (name: string) => (owned.get(`Deployment/${name}`) as V1Deployment | undefined)?.spec?.replicas;
  const status = () => fn.status as FunctionStatus;
  const condition = (type: string) => status().conditions?.find((c) => c.type === type);
  /** Let time pass beyond every expectation of our own applies, so the next reconcile trusts the cache. */
  const later = (ms = 6000) => (clock.t += ms);
  return { fn, owned, pods, calls, events, versionStatuses, clock, cluster, deps, reconciler, replicasOf, status, condition, later };
}

describe('claimed warm-pool pods in the Function reconcile', () => {
  it('runs on the Deployment only what claimed pods do not cover, and counts them in the status', async () => {
    const s = spec('1', { scaling: { minInstances: 3 } });
    const c = fakeCluster(s);
    c.pods.push(claimed('p1', 'f', hashOf(s)), claimed('p2', 'f', hashOf(s), { ready: false }));
    await c.reconciler.reconcile('n/f');
    expect(c.replicasOf('f')).toBe(1);
    // 1 of the Deployment's + 1 ready claimed pod; the claimed one still specialising counts as a replica, not ready.
    expect(c.status()).toMatchObject({ desiredInstances: 3, readyInstances: 2, replicas: 3 });
    expect(c.condition('Ready')).toMatchObject({ status: 'False', reason: 'InstancesStarting' });
    expect(c.condition('Updated')).toMatchObject({ status: 'True', reason: 'RolledOut', message: 'all 3 instances run the current code' });
  });

  it('adopts a claimed pod once its pool\'s ReplicaSet has released it, as the Function\'s', async () => {
    const s = spec('1', { scaling: { minInstances: 1 } });
    const c = fakeCluster(s);
    c.pods.push(claimed('held', 'f', hashOf(s)));
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.startsWith('adopt'))).toEqual([]);
    c.pods[0]!.metadata!.ownerReferences = [];
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.startsWith('adopt'))).toEqual(['adopt held by Function/f']);
    expect(c.pods[0]?.metadata?.ownerReferences).toEqual([{ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', name: 'f', uid: 'uid-f', controller: true, blockOwnerDeletion: true }]);
  });

  it('deletes a surplus claimed pod, lowest deletion cost first, with the grace its calls need', async () => {
    const s = spec('1', { scaling: { minInstances: 1 } });
    const c = fakeCluster(s);
    c.pods.push(claimed('keep', 'f', hashOf(s), { cost: 100 }), claimed('victim', 'f', hashOf(s), { cost: -100 }));
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toContain(`delete victim grace ${terminationGraceSeconds(30)}`);
    expect(c.calls.filter((x) => x.startsWith('delete'))).toHaveLength(1);
    expect(c.replicasOf('f')).toBe(0);
    // The deleted pod no longer counts; nothing more is deleted.
    c.calls.length = 0;
    c.later();
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.startsWith('delete'))).toEqual([]);
    expect(c.status()).toMatchObject({ readyInstances: 1, replicas: 1 });
    // The Deployment runs none, but the function is not scaled to zero: its claimed pod runs the current code.
    expect(c.condition('Updated')).toMatchObject({ status: 'True', reason: 'RolledOut', message: 'all 1 instances run the current code' });
  });

  it('keeps a new claim while the gateway\'s scale is on its way, then deletes it if it is still surplus', async () => {
    const s = spec('1', { scaling: { minInstances: 0 } });
    const c = fakeCluster(s);
    c.pods.push(claimed('new', 'f', hashOf(s), { at: T0 - 100 }));
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'requeue', afterMs: CLAIM_SETTLE_MS - 100 });
    expect(c.calls.filter((x) => x.startsWith('delete'))).toEqual([]);
    c.clock.t += CLAIM_SETTLE_MS;
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.startsWith('delete'))).toEqual([`delete new grace ${terminationGraceSeconds(30)}`]);
  });

  it('replaces a claimed pod of an older spec once the Deployment\'s new pods are available; Updated waits for it', async () => {
    const before = spec('1', { scaling: { minInstances: 1 } });
    const c = fakeCluster(spec('2', { scaling: { minInstances: 1 } }));
    c.pods.push(claimed('old', 'f', hashOf(before)));
    c.cluster.available = false;
    await c.reconciler.reconcile('n/f');
    // The stale pod covers nothing: the Deployment runs the one instance, and the stale pod serves until it is available.
    expect(c.replicasOf('f')).toBe(1);
    expect(c.calls.filter((x) => x.startsWith('delete'))).toEqual([]);
    expect(c.condition('Updated')).toMatchObject({ status: 'False', reason: 'RollingOut', message: expect.stringContaining('1 claimed warm-pool instance still runs the previous code') });
    c.cluster.available = true;
    c.owned.set('Deployment/f', { ...c.owned.get('Deployment/f')!, status: { replicas: 1, readyReplicas: 1, updatedReplicas: 1, availableReplicas: 1 } });
    c.later();
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.startsWith('delete'))).toEqual([`delete old grace ${terminationGraceSeconds(30)}`]);
    c.later();
    await c.reconciler.reconcile('n/f');
    expect(c.condition('Updated')).toMatchObject({ status: 'True', reason: 'RolledOut' });
  });

  it('deletes at once a claimed pod whose specialisation failed, and says so', async () => {
    const s = spec('1', { scaling: { minInstances: 1 } });
    const c = fakeCluster(s);
    c.cluster.available = false;
    c.pods.push(claimed('broken', 'f', 'failed'));
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toContain(`delete broken grace ${terminationGraceSeconds(30)}`);
    expect(c.replicasOf('f')).toBe(1);
    expect(c.events).toContainEqual(expect.stringMatching(/^Warning SpecializationFailed: deleted claimed warm-pool pod broken/));
  });

  it('accounts a version\'s claimed pods to the version, adopted by its FunctionVersion', async () => {
    const v1 = versionObject('1', spec('1'));
    const c = fakeCluster(spec('2', { aliases: [{ name: 'live', version: '1', minInstances: 2 }] }), [v1]);
    c.pods.push(claimed('v', 'f:1', hashOf(spec('1')), { released: true }));
    await c.reconciler.reconcile('n/f');
    expect(c.replicasOf('f-v1')).toBe(1);
    expect(c.replicasOf('f')).toBe(0);
    expect(c.calls).toContain('adopt v by FunctionVersion/f-v1');
    expect(c.versionStatuses.get('f-v1')).toMatchObject({ desiredInstances: 2, readyInstances: 2, replicas: 2 });
  });

  it('deletes claimed pods of a version that does not exist, 30 s after their claim', async () => {
    const c = fakeCluster(spec('1'));
    c.pods.push(claimed('lost', 'f:9', 'h', { at: T0 - 5000 }));
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'requeue', afterMs: CLAIM_ORPHAN_MS - 5000 });
    expect(c.calls.filter((x) => x.startsWith('delete'))).toEqual([]);
    c.clock.t += CLAIM_ORPHAN_MS;
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.startsWith('delete'))).toEqual(['delete lost']);
  });

  it('deletes claimed pods of a Function that is gone, 30 s after their claim', async () => {
    const c = fakeCluster(spec('1'));
    c.cluster.exists = false;
    c.pods.push(claimed('late', 'f', 'h', { at: T0 - 1000 }), claimed('older', 'f:2', 'h', { at: T0 - CLAIM_ORPHAN_MS }));
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'requeue', afterMs: CLAIM_ORPHAN_MS - 1000 });
    expect(c.calls).toEqual(['delete older']);
  });
});
