import { describe, expect, it } from 'vitest';
import type { FunctionStatus } from '../../src/api/function.js';
import type { WireObject } from '../../src/kube/objects.js';
import { Reconciler, type OwnedKind, type ReconcilerDeps } from '../../src/controller/reconciler.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { FINALIZER } from '../../src/controller/resources/names.js';
import type { FunctionObject } from '../../src/controller/resources/validation.js';

const validSpec = { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'x' } }, scaling: { minInstances: 1 } };

/** An API server in memory: writes land in the cache the next reconcile reads, as the informers would make them. */
function fakeCluster(spec: unknown, metadata: Partial<NonNullable<FunctionObject['metadata']>> = {}) {
  const fn: FunctionObject = {
    apiVersion: 'hearth.dev/v1alpha1', kind: 'Function',
    metadata: { name: 'f', namespace: 'n', uid: 'uid-f', generation: 1, resourceVersion: '1', finalizers: [FINALIZER], ...metadata },
    spec,
  };
  const owned = new Map<string, WireObject>();
  const calls: string[] = [];
  const events: string[] = [];
  let exists = true;
  const clock = { t: Date.UTC(2026, 0, 1) };
  const deps: ReconcilerDeps = {
    getFunction: () => (exists ? fn : undefined),
    getOwned: (kind, _ns, name) => owned.get(`${kind}/${name}`),
    podsOf: () => [],
    versionsOf: () => [],
    podsOfVersion: () => [],
    claimedPodsOf: () => [],
    deletePod: async () => undefined,
    adoptPod: async () => undefined,
    apply: async (obj) => {
      calls.push(`apply ${String(obj.kind)}/${String(obj.metadata?.name)}`);
      const stored = { ...obj, status: obj.kind === 'Deployment' ? { readyReplicas: 1, replicas: 1, updatedReplicas: 1 } : undefined };
      owned.set(`${String(obj.kind)}/${String(obj.metadata?.name)}`, stored);
      return stored;
    },
    remove: async (kind: OwnedKind, _ns, name) => {
      calls.push(`remove ${kind}/${name}`);
      owned.delete(`${kind}/${name}`);
    },
    patchStatus: async (_ns, _name, status: FunctionStatus) => {
      calls.push('status');
      fn.status = status;
    },
    patchVersionStatus: async () => {
      calls.push('version status');
    },
    setFinalizers: async (_ns, _name, finalizers) => {
      calls.push(`finalizers ${JSON.stringify(finalizers)}`);
      if (fn.metadata) fn.metadata.finalizers = finalizers;
    },
    cleanup: async () => {
      calls.push('cleanup');
    },
    events: { emit: (_t, type, reason) => events.push(`${type} ${reason}`) },
    now: () => clock.t,
  };
  const reconciler = new Reconciler(deps, { images: defaultImages('t'), gatewayService: 'gw', gatewayNamespace: 'hs' });
  return { fn, owned, calls, events, reconciler, deps, clock, gone: () => (exists = false) };
}

describe('Reconciler', () => {
  it('creates the owned objects once, then changes nothing while nothing changes', async () => {
    const c = fakeCluster(validSpec);
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'success' });
    expect(c.calls).toEqual([
      // The namespace's NetworkPolicy before anything a pod could run from.
      'apply NetworkPolicy/hearth-functions', 'apply ServiceAccount/f', 'apply ConfigMap/f-code', 'apply Deployment/f', 'apply Service/f', 'status',
    ]);
    expect(readyOf(c.fn)).toMatchObject({ status: 'True', reason: 'InstancesReady' });
    expect(c.events).toEqual(['Normal Created', 'Normal InstancesReady']);
    c.calls.length = 0;
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toEqual([]);
  });

  it("removes a function's own NetworkPolicy of earlier releases once the namespace's one is in place", async () => {
    const c = fakeCluster(validSpec);
    const own = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'f', namespace: 'n', ownerReferences: [{ uid: 'uid-f' }] } };
    c.owned.set('NetworkPolicy/f', own as WireObject);
    // Someone else's policy of another name is not ours to touch.
    c.owned.set('NetworkPolicy/g', { ...own, metadata: { ...own.metadata, name: 'g', ownerReferences: [{ uid: 'uid-g' }] } } as WireObject);
    await c.reconciler.reconcile('n/f');
    const policy = c.calls.indexOf('apply NetworkPolicy/hearth-functions');
    const removed = c.calls.indexOf('remove NetworkPolicy/f');
    expect(policy).toBeGreaterThanOrEqual(0);
    expect(removed).toBeGreaterThan(policy);
    expect(c.owned.has('NetworkPolicy/g')).toBe(true);
  });

  it("applies the namespace's NetworkPolicy once for a burst of new functions, and again when it is deleted", async () => {
    const c = fakeCluster(validSpec);
    let lagging = true;
    const getOwned = c.deps.getOwned;
    // The informer has not seen the policy yet: every reconcile of the burst must not apply it again.
    c.deps.getOwned = (kind, ns, name) => (lagging && kind === 'NetworkPolicy' ? undefined : getOwned(kind, ns, name));
    const outcomes = await Promise.all([c.reconciler.reconcile('n/f'), c.reconciler.reconcile('n/f'), c.reconciler.reconcile('n/f')]);
    expect(c.calls.filter((x) => x === 'apply NetworkPolicy/hearth-functions')).toHaveLength(1);
    for (const o of outcomes) expect(o).toEqual({ result: 'success' });
    // Still not in the cache a moment later: trusted for a while, then looked at again.
    c.calls.length = 0;
    c.clock.t += 1000;
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'requeue', afterMs: 4000 });
    expect(c.calls).toEqual([]);
    lagging = false;
    c.clock.t += 4000;
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'success' });
    expect(c.calls).toEqual([]);
    // Deleted by hand: put back before anything else.
    c.owned.delete('NetworkPolicy/hearth-functions');
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toEqual(['apply NetworkPolicy/hearth-functions']);
  });

  it('re-applies only what was edited by hand', async () => {
    const c = fakeCluster(validSpec);
    await c.reconciler.reconcile('n/f');
    const d = c.owned.get('Deployment/f') as { spec: { replicas: number } };
    c.owned.set('Deployment/f', { ...(d as WireObject), spec: { ...d.spec, replicas: 5 } });
    c.calls.length = 0;
    // Just after our own apply the cache may simply lag behind it: look again later instead.
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'requeue', afterMs: 5000 });
    expect(c.calls).toEqual([]);
    c.clock.t += 5000;
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'success' });
    expect(c.calls).toEqual(['apply Deployment/f']);
  });

  it('does not apply again while the cache lags behind its own apply', async () => {
    const c = fakeCluster(validSpec);
    c.deps.getOwned = () => undefined; // an informer that has seen nothing yet
    await c.reconciler.reconcile('n/f');
    c.calls.length = 0;
    c.clock.t += 1000;
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'requeue', afterMs: 4000 });
    expect(c.calls).toEqual([]);
  });

  it('removes objects no longer wanted', async () => {
    const c = fakeCluster(validSpec);
    await c.reconciler.reconcile('n/f');
    c.fn.spec = { ...validSpec, serviceAccountName: 'role', code: { configMap: { name: 'src' } } };
    c.clock.t += 1;
    c.calls.length = 0;
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toEqual(expect.arrayContaining(['remove ServiceAccount/f', 'remove ConfigMap/f-code', 'apply Deployment/f']));
    expect(c.events).toContain('Normal RollingOut');
  });

  it('reports an invalid spec once, touches nothing, and asks for no retry', async () => {
    const c = fakeCluster({ ...validSpec, schedules: [{ name: 't', cron: 'nope' }] });
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'invalid' });
    expect(c.calls).toEqual(['status']);
    expect(readyOf(c.fn)).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: expect.stringContaining('spec.schedules[0].cron') });
    expect(c.events).toEqual(['Warning InvalidSpec']);
    c.calls.length = 0;
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'invalid' });
    expect(c.calls).toEqual([]);
  });

  it('adds its finalizer, keeping others', async () => {
    const c = fakeCluster(validSpec, { finalizers: ['someone/else'] });
    await c.reconciler.reconcile('n/f');
    expect(c.calls[0]).toBe(`finalizers ${JSON.stringify(['someone/else', FINALIZER])}`);
  });

  it('on deletion cleans up, then removes only its finalizer', async () => {
    const c = fakeCluster(validSpec, { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: [FINALIZER, 'someone/else'] });
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'success' });
    expect(c.calls).toEqual(['cleanup', 'finalizers ["someone/else"]']);
  });

  it('does nothing for a Function that is gone', async () => {
    const c = fakeCluster(validSpec);
    c.gone();
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'success' });
    expect(c.calls).toEqual([]);
  });

  it('shows each schedule\'s next run time and comes back to refresh it once the tick has passed', async () => {
    const c = fakeCluster({ ...validSpec, schedules: [{ name: 'hourly', cron: '0 * * * *' }, { name: 'paused', cron: '* * * * *', enabled: false }] });
    c.clock.t = Date.parse('2026-01-01T00:40:00Z');
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'requeue', afterMs: 20 * 60_000 });
    expect((c.fn.status as FunctionStatus).schedules).toEqual([{ name: 'hourly', nextRunTime: '2026-01-01T01:00:00Z' }, { name: 'paused' }]);
    c.clock.t += 20 * 60_000;
    c.calls.length = 0;
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'requeue', afterMs: 60 * 60_000 });
    expect(c.calls).toEqual(['status']);
    expect((c.fn.status as FunctionStatus).schedules?.[0]?.nextRunTime).toBe('2026-01-01T02:00:00Z');
  });

  it('clears the next run times when the schedules go or the spec is refused', async () => {
    const c = fakeCluster({ ...validSpec, schedules: [{ name: 'hourly', cron: '0 * * * *' }] });
    await c.reconciler.reconcile('n/f');
    c.fn.spec = validSpec;
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'success' });
    expect((c.fn.status as FunctionStatus).schedules).toEqual([]);
    c.fn.spec = { ...validSpec, schedules: [{ name: 'hourly', cron: '0 * * * *' }] };
    await c.reconciler.reconcile('n/f');
    c.fn.spec = { ...validSpec, schedules: [{ name: 'hourly', cron: '0 * * * *', timezone: 'Not/A_Zone' }] };
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'invalid' });
    expect(readyOf(c.fn)?.message).toContain('spec.schedules[0].timezone: is not a valid IANA time zone');
    expect((c.fn.status as FunctionStatus).schedules).toEqual([]);
  });

  it('reports the code updated only once the Deployment runs no pod of the previous template, though its cache lags the apply', async () => {
    const c = fakeCluster(validSpec);
    await c.reconciler.reconcile('n/f');
    expect(updatedOf(c.fn)).toMatchObject({ status: 'True', reason: 'RolledOut', observedGeneration: 1 });
    // The cache keeps the old Deployment (rolled out long ago); the API server answers the apply with the new template, not yet rolled out.
    const old = c.owned.get('Deployment/f') as WireObject;
    const serverApply = c.deps.apply;
    let applied: WireObject | undefined;
    c.deps.apply = async <T extends WireObject>(obj: T): Promise<T> => {
      const stored = await serverApply(obj);
      if (obj.kind !== 'Deployment') return stored;
      c.owned.set('Deployment/f', old);
      applied = { ...stored, metadata: { ...stored.metadata, generation: 2 }, status: { observedGeneration: 1, readyReplicas: 1, replicas: 1, updatedReplicas: 1 } };
      return applied as T;
    };
    c.fn.spec = { ...validSpec, code: { inline: { 'app.py': 'y' } } };
    c.fn.metadata = { ...c.fn.metadata, generation: 2 };
    await c.reconciler.reconcile('n/f');
    expect(readyOf(c.fn)).toMatchObject({ status: 'True', reason: 'InstancesReady' });
    expect(updatedOf(c.fn)).toMatchObject({ status: 'False', reason: 'RollingOut', observedGeneration: 2 });
    // The cache catches up: a new pod beside the old one, then the old one gone.
    const cached = (status: object): WireObject => ({ ...(applied as WireObject), status: { observedGeneration: 2, ...status } });
    c.owned.set('Deployment/f', cached({ readyReplicas: 2, replicas: 2, updatedReplicas: 1 }));
    await c.reconciler.reconcile('n/f');
    expect(updatedOf(c.fn)).toMatchObject({ status: 'False', reason: 'RollingOut', message: '1 of 2 instances run the current code' });
    c.owned.set('Deployment/f', cached({ readyReplicas: 1, replicas: 1, updatedReplicas: 1 }));
    c.calls.length = 0;
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toEqual(['status']);
    expect(updatedOf(c.fn)).toMatchObject({ status: 'True', reason: 'RolledOut', observedGeneration: 2 });
  });

  it('reports a failed apply as ApplyFailed and throws so the queue retries', async () => {
    const c = fakeCluster(validSpec);
    c.deps.apply = async () => {
      throw new Error('admission webhook said no');
    };
    await expect(c.reconciler.reconcile('n/f')).rejects.toThrow('admission webhook said no');
    expect(readyOf(c.fn)).toMatchObject({ status: 'False', reason: 'ApplyFailed', message: 'admission webhook said no' });
  });
});

function updatedOf(fn: FunctionObject) {
  return (fn.status as FunctionStatus | undefined)?.conditions?.find((c) => c.type === 'Updated');
}

function readyOf(fn: FunctionObject) {
  return (fn.status as FunctionStatus | undefined)?.conditions?.[0];
}
