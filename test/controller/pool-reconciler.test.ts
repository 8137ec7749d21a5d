import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { WarmPoolStatus } from '../../src/api/warm-pool.js';
import type { WireObject } from '../../src/kube/objects.js';
import { createControllerPoolMetrics } from '../../src/metrics/pools.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { PoolReconciler, type PoolObject, type PoolReconcilerDeps } from '../../src/controller/pool-reconciler.js';
import type { OwnedKind } from '../../src/controller/owned-sync.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { ClaimLog, idleCounts, nextPoolChangeMs, poolStatus } from '../../src/controller/resources/pool-status.js';
import { ANNOTATION_CLAIMED_AT, LABEL_CLAIMED, LABEL_CLAIMED_FROM, poolPodLabels } from '../../src/pools/labels.js';
import { POOL_RATE_WINDOW_MS, POOL_REFILL_MS } from '../../src/pools/pool-size.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const iso = (ms: number) => new Date(ms).toISOString();

function idlePod(name: string, o: { ready?: boolean; deleting?: boolean; pool?: string; waiting?: string } = {}): V1Pod {
  return {
    metadata: { name, uid: `uid-${name}`, labels: poolPodLabels(o.pool ?? 'python', 'python'), ...(o.deleting ? { deletionTimestamp: new Date(T0) } : {}) },
    status: {
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
      ...(o.waiting !== undefined ? { containerStatuses: [{ name: 'runtime', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: o.waiting } } }] } : {}),
    },
  };
}

function claimedPod(name: string, at: number, pool = 'python'): V1Pod {
  return {
    metadata: {
      name, uid: `uid-${name}`,
      labels: { 'app.kubernetes.io/managed-by': 'hearth', 'hearth.dev/pool-runtime': 'python', [LABEL_CLAIMED]: 'true', [LABEL_CLAIMED_FROM]: pool, 'hearth.dev/function': 'f' },
      annotations: { [ANNOTATION_CLAIMED_AT]: iso(at) },
    },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

describe('pool status', () => {
  const base = { generation: 3, previous: undefined, now: '2026-01-01T12:00:00Z', nowMs: T0, claims: 0, claimTimes: [], lastClaim: undefined };
  it.each([
    { case: 'all wanted pods ready', desired: 2, idle: [idlePod('a'), idlePod('b')], ready: 'True', reason: 'PodsReady', readyPods: 2 },
    { case: 'some starting', desired: 2, idle: [idlePod('a'), idlePod('b', { ready: false })], ready: 'False', reason: 'PodsStarting', readyPods: 1 },
    { case: 'a leaving pod is not ready', desired: 1, idle: [idlePod('a', { deleting: true })], ready: 'False', reason: 'PodsStarting', readyPods: 0 },
    { case: 'pods failing say why', desired: 1, idle: [idlePod('a', { ready: false, waiting: 'ImagePullBackOff' })], ready: 'False', reason: 'ImagePullBackOff', readyPods: 0 },
    { case: 'none wanted', desired: 0, idle: [], ready: 'True', reason: 'NoneWanted', readyPods: 0 },
  ])('$case', ({ desired, idle, ready, reason, readyPods }) => {
    const s = poolStatus({ ...base, desiredSize: desired, idle });
    expect(s).toMatchObject({ observedGeneration: 3, desiredSize: desired, readyPods, claims: 0, claimsPerMinute: 0 });
    expect(s.conditions?.[0]).toMatchObject({ type: 'Ready', status: ready, reason, observedGeneration: 3 });
  });

  it('reports claims, their rate and the last one', () => {
    const s = poolStatus({ ...base, desiredSize: 1, idle: [idlePod('a')], claims: 4, claimTimes: [T0 - 1000, T0 - 2000, T0 - 90_000], lastClaim: T0 - 1000 });
    expect(s).toMatchObject({ claims: 4, claimsPerMinute: 2, lastClaimTime: iso(T0 - 1000) });
  });

  it('counts idle pods by state', () => {
    expect(idleCounts([idlePod('a'), idlePod('b', { ready: false }), idlePod('c', { deleting: true })])).toEqual({ ready: 1, starting: 1 });
  });

  it('looks again when a claim leaves the refill period, then the window, then never', () => {
    expect(nextPoolChangeMs([T0 - 1000], T0)).toBe(POOL_REFILL_MS - 1000);
    expect(nextPoolChangeMs([T0 - POOL_REFILL_MS - 1000], T0)).toBe(POOL_RATE_WINDOW_MS - POOL_REFILL_MS - 1000);
    expect(nextPoolChangeMs([T0 - POOL_RATE_WINDOW_MS], T0)).toBeUndefined();
    expect(nextPoolChangeMs([], T0)).toBeUndefined();
  });
});

describe('ClaimLog', () => {
  it('counts each claimed pod once, only claims since it started, and forgets pods gone past the window', () => {
    const log = new ClaimLog(T0);
    expect(log.observe([{ uid: 'old', claimedAt: T0 - 5000 }, { uid: 'a', claimedAt: T0 + 10 }], T0 + 100)).toBe(1);
    expect(log.observe([{ uid: 'old', claimedAt: T0 - 5000 }, { uid: 'a', claimedAt: T0 + 10 }, { uid: 'b', claimedAt: undefined }], T0 + 200)).toBe(1);
    expect(log.total).toBe(2);
    expect(log.last).toBe(T0 + 200);
    expect(log.times().sort()).toEqual([T0 - 5000, T0 + 10, T0 + 200].sort());
    // a is gone but still in the window; old is gone and past it.
    log.observe([{ uid: 'b', claimedAt: undefined }], T0 + POOL_RATE_WINDOW_MS - 4000);
    expect(log.times().sort()).toEqual([T0 + 10, T0 + 200].sort());
    // b is still there: never counted twice.
    expect(log.observe([{ uid: 'b', claimedAt: undefined }], T0 + 10 * POOL_RATE_WINDOW_MS)).toBe(0);
    expect(log.times()).toEqual([T0 + 200]);
  });
});

function fakePoolCluster(spec: unknown) {
  const pool: PoolObject = { apiVersion: 'hearth.dev/v1alpha1', kind: 'WarmPool', metadata: { name: 'python', namespace: 'n', uid: 'uid-pool', generation: 1 }, spec };
  const owned = new Map<string, WireObject>();
  const pods: V1Pod[] = [];
  const calls: string[] = [];
  const events: string[] = [];
  const clock = { t: T0 };
  let exists = true;
  const registry = createRegistry({ defaultMetrics: false });
  const metrics = createControllerPoolMetrics(registry);
  const deps: PoolReconcilerDeps = {
    getPool: () => (exists ? pool : undefined),
    getOwned: (kind, _ns, name) => owned.get(`${kind}/${name}`),
    poolPods: () => pods,
    apply: async (obj) => {
      calls.push(`apply ${String(obj.kind)}/${String(obj.metadata?.name)}`);
      owned.set(`${String(obj.kind)}/${String(obj.metadata?.name)}`, obj);
      return obj;
    },
    remove: async (kind: OwnedKind, _ns, name) => {
      calls.push(`remove ${kind}/${name}`);
    },
    patchPoolStatus: async (_ns, _name, status: WarmPoolStatus) => {
      calls.push('status');
      pool.status = status;
    },
    events: { emit: (_t, type, reason) => events.push(`${type} ${reason}`) },
    now: () => clock.t,
    metrics,
  };
  const reconciler = new PoolReconciler(deps, { images: defaultImages('t'), gatewayNamespace: 'hs' });
  const replicas = () => (owned.get('Deployment/pool-python') as V1Deployment | undefined)?.spec?.replicas;
  const status = () => pool.status as WarmPoolStatus;
  return { pool, owned, pods, calls, events, clock, reconciler, replicas, status, registry, metrics, gone: () => (exists = false) };
}

describe('PoolReconciler', () => {
  it('creates the ServiceAccount and NetworkPolicy before the Deployment, then writes nothing while nothing changes', async () => {
    const c = fakePoolCluster({ runtime: 'python', minSize: 2, maxSize: 5 });
    expect(await c.reconciler.reconcile('n/python')).toEqual({ result: 'success' });
    expect(c.calls).toEqual(['apply ServiceAccount/pool-python', 'apply NetworkPolicy/pool-python', 'apply Deployment/pool-python', 'status']);
    expect(c.replicas()).toBe(2);
    expect(c.status()).toMatchObject({ desiredSize: 2, readyPods: 0, claims: 0, conditions: [{ reason: 'PodsStarting' }] });
    c.calls.length = 0;
    await c.reconciler.reconcile('n/python');
    expect(c.calls).toEqual([]);
    c.pods.push(idlePod('a'), idlePod('b'));
    await c.reconciler.reconcile('n/python');
    expect(c.calls).toEqual(['status']);
    expect(c.status()).toMatchObject({ readyPods: 2, conditions: [{ status: 'True', reason: 'PodsReady' }] });
    expect(c.events).toEqual(['Normal PodsReady']);
  });

  it('grows with claims, counts each once, and comes back until they leave the window', async () => {
    const c = fakePoolCluster({ runtime: 'python', minSize: 1, maxSize: 5 });
    await c.reconciler.reconcile('n/python');
    c.clock.t += 1000;
    // Three claims in one refill period: a burst met whole. Another pool's claim is not ours.
    c.pods.push(claimedPod('c1', c.clock.t - 300), claimedPod('c2', c.clock.t - 200), claimedPod('c3', c.clock.t - 100), claimedPod('x', c.clock.t, 'nodejs'));
    const out = await c.reconciler.reconcile('n/python');
    expect(out).toEqual({ result: 'requeue', afterMs: POOL_REFILL_MS - 300 });
    expect(c.replicas()).toBe(3);
    expect(c.status()).toMatchObject({ desiredSize: 3, claims: 3, claimsPerMinute: 3, lastClaimTime: iso(c.clock.t - 100) });
    await c.reconciler.reconcile('n/python');
    expect(c.status().claims).toBe(3);
    expect((await c.registry.getSingleMetricAsString('hearth_pool_claimed_pods_total'))).toContain('hearth_pool_claimed_pods_total{pool="python",runtime="python"} 3');
    expect((await c.registry.getSingleMetricAsString('hearth_pool_desired_size'))).toContain('hearth_pool_desired_size{pool="python",runtime="python"} 3');
    // Past the refill period the rate alone counts (3 a minute: ceil(2 × 3/60 s × 5 s) = 1); past the window, nothing.
    c.clock.t += POOL_REFILL_MS;
    await c.reconciler.reconcile('n/python');
    expect(c.replicas()).toBe(1);
    c.clock.t += POOL_RATE_WINDOW_MS;
    expect(await c.reconciler.reconcile('n/python')).toEqual({ result: 'success' });
    expect(c.status()).toMatchObject({ desiredSize: 1, claims: 3, claimsPerMinute: 0 });
  });

  it('reports pod counts by state in its metrics and drops them once the pool is gone', async () => {
    const c = fakePoolCluster({ runtime: 'python', minSize: 2 });
    c.pods.push(idlePod('a'), idlePod('b', { ready: false }));
    await c.reconciler.reconcile('n/python');
    const text = await c.registry.getSingleMetricAsString('hearth_pool_pods');
    expect(text).toContain('hearth_pool_pods{pool="python",runtime="python",state="ready"} 1');
    expect(text).toContain('hearth_pool_pods{pool="python",runtime="python",state="starting"} 1');
    c.gone();
    await c.reconciler.reconcile('n/python');
    expect(await c.registry.getSingleMetricAsString('hearth_pool_pods')).not.toContain('pool="python"');
  });

  it('refuses an invalid spec and touches nothing', async () => {
    const c = fakePoolCluster({ runtime: 'go' });
    expect(await c.reconciler.reconcile('n/python')).toEqual({ result: 'invalid' });
    expect(c.calls).toEqual(['status']);
    expect(c.status().conditions?.[0]).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: expect.stringContaining('spec.runtime') });
    expect(c.events).toEqual(['Warning InvalidSpec']);
  });

  it('never takes over an object of its name that another owner controls', async () => {
    const c = fakePoolCluster({ runtime: 'python' });
    c.owned.set('Deployment/pool-python', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'pool-python', ownerReferences: [{ kind: 'Function', uid: 'uid-fn', controller: true }] } });
    expect(await c.reconciler.reconcile('n/python')).toEqual({ result: 'invalid' });
    expect(c.calls).toEqual(['status']);
    expect(c.status().conditions?.[0]).toMatchObject({ status: 'False', reason: 'NameConflict', message: expect.stringContaining('Deployment pool-python') });
  });
});
