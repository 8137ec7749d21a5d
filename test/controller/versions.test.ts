// The reconciler's side of published versions, against an API server in
// memory: each FunctionVersion runs from its own objects (named NAME-vN,
// owned by it, labelled so $LATEST's Service never selects its pods), the
// Function's status sums versions and aliases up, Events tell of publishes
// and alias changes, and versioning.publishOnChange / retain ask the store
// to publish and delete.
import type { V1ConfigMap, V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { FunctionSchema, type FunctionStatus } from '../../src/api/function.js';
import type { FunctionVersionStatus } from '../../src/api/function-version.js';
import { Reconciler, type OwnedKind, type ReconcilerDeps } from '../../src/controller/reconciler.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { ANNOTATION_CODE_HASH, FINALIZER, LABEL_FUNCTION } from '../../src/controller/resources/names.js';
import type { NetworkPolicy } from '../../src/controller/resources/networkpolicy.js';
import type { FunctionObject } from '../../src/controller/resources/validation.js';
import type { VersionObject } from '../../src/controller/resources/versions.js';
import type { WireObject } from '../../src/kube/objects.js';
import { StoreError } from '../../src/store/function-store.js';
import type { ConfigMapContent } from '../../src/store/configmap-copies.js';
import { snapshotDigest, snapshotOf } from '../../src/versions/snapshot.js';

const images = defaultImages('t');
const code = (body: string) => ({ inline: { 'app.py': `def handler(e, c):\n    return ${body}\n` } });
const spec = (body = '"latest"', extra: Record<string, unknown> = {}) => ({ runtime: 'python3.12', handler: 'app.handler', code: code(body), ...extra });

/** The digest the store gives a spec without ConfigMap references. */
function digestOf(s: unknown): string {
  const fn = FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' }, spec: s });
  return snapshotDigest(snapshotOf(fn.spec), '');
}

/** A FunctionVersion as the store makes it: the validated snapshot, owned by the Function. */
function versionObject(n: string, snapshotSpec: Record<string, unknown>, extra: { replicas?: number; uid?: string } = {}): VersionObject {
  const fn = FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' }, spec: snapshotSpec });
  return {
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'FunctionVersion',
    metadata: {
      name: `f-v${n}`, namespace: 'n', uid: extra.uid ?? `uid-v${n}`, generation: 1,
      labels: { 'hearth.dev/version-of': 'f', 'hearth.dev/version': n },
      ownerReferences: [{ kind: 'Function', uid: 'uid-f' }],
    },
    spec: { function: 'f', version: n, codeSha256: digestOf(snapshotSpec), snapshot: snapshotOf(fn.spec), ...(extra.replicas !== undefined ? { replicas: extra.replicas } : {}) },
  };
}

function fakeCluster(fnSpec: Record<string, unknown>, versions: VersionObject[] = []) {
  const fn: FunctionObject = {
    apiVersion: 'hearth.dev/v1alpha1', kind: 'Function',
    metadata: { name: 'f', namespace: 'n', uid: 'uid-f', generation: 1, resourceVersion: '1', finalizers: [FINALIZER] },
    spec: fnSpec,
  };
  const owned = new Map<string, WireObject>();
  const configMaps = new Map<string, ConfigMapContent>();
  const pods: V1Pod[] = [];
  const calls: string[] = [];
  const events: string[] = [];
  const statuses: FunctionStatus[] = [];
  const versionStatuses = new Map<string, FunctionVersionStatus>();
  const published: string[] = [];
  const clock = { t: Date.UTC(2026, 0, 1) };
  const deps: ReconcilerDeps = {
    getFunction: () => fn,
    getOwned: (kind, _ns, name) => owned.get(`${kind}/${name}`),
    podsOf: (_ns, name) => pods.filter((p) => p.metadata?.labels?.[LABEL_FUNCTION] === name),
    versionsOf: () => versions,
    podsOfVersion: (_ns, name, v) => pods.filter((p) => p.metadata?.labels?.['hearth.dev/version-of'] === name && p.metadata.labels['hearth.dev/version'] === v),
    claimedPodsOf: (_ns, name) =>
      pods.filter((p) => p.metadata?.labels?.['hearth.dev/claimed'] === 'true' && (p.metadata.labels[LABEL_FUNCTION] === name || p.metadata.labels['hearth.dev/version-of'] === name)),
    deletePod: async (_ns, name, _uid, grace) => {
      calls.push(`delete pod ${name}${grace !== undefined ? ` grace ${grace}` : ''}`);
      const p = pods.find((x) => x.metadata?.name === name);
      if (p?.metadata !== undefined) p.metadata.deletionTimestamp = new Date(clock.t);
    },
    adoptPod: async (_ns, name, _uid, owner) => {
      calls.push(`adopt pod ${name} by ${owner.kind}/${owner.name}`);
      const p = pods.find((x) => x.metadata?.name === name);
      if (p?.metadata !== undefined) p.metadata.ownerReferences = [{ ...owner }];
    },
    apply: async (obj) => {
      calls.push(`apply ${String(obj.kind)}/${String(obj.metadata?.name)}`);
      const stored = { ...obj, status: obj.kind === 'Deployment' ? { readyReplicas: (obj as V1Deployment).spec?.replicas ?? 0, replicas: (obj as V1Deployment).spec?.replicas ?? 0, updatedReplicas: (obj as V1Deployment).spec?.replicas ?? 0 } : undefined };
      owned.set(`${String(obj.kind)}/${String(obj.metadata?.name)}`, stored);
      return stored;
    },
    remove: async (kind: OwnedKind, _ns, name) => {
      calls.push(`remove ${kind}/${name}`);
      owned.delete(`${kind}/${name}`);
    },
    patchStatus: async (_ns, _name, status) => {
      calls.push('status');
      statuses.push(status);
      // A merge patch: fields left out keep their value (latestVersion is the store's).
      fn.status = { ...(fn.status as FunctionStatus | undefined), ...status };
    },
    patchVersionStatus: async (_ns, name, status) => {
      calls.push(`version status ${name}`);
      versionStatuses.set(name, status);
      const v = versions.find((x) => x.metadata?.name === name);
      if (v !== undefined) v.status = status;
    },
    setFinalizers: async () => undefined,
    readConfigMap: async (_ns, name) => configMaps.get(name),
    publish: async () => {
      calls.push('publish');
      published.push(JSON.stringify(fn.spec));
    },
    deleteVersion: async (_ns, _name, v) => {
      calls.push(`delete version ${v}`);
      const i = versions.findIndex((x) => (x.spec as { version: string }).version === v);
      if (i < 0) throw new StoreError('not-found', `version ${v} not found`);
      versions.splice(i, 1);
    },
    events: { emit: (_t, type, reason, message) => events.push(`${type} ${reason}: ${message}`) },
    now: () => clock.t,
  };
  const reconciler = new Reconciler(deps, { images, gatewayService: 'gw', gatewayNamespace: 'hs' });
  const get = <T>(kind: OwnedKind, name: string) => owned.get(`${kind}/${name}`) as T | undefined;
  const status = () => fn.status as FunctionStatus;
  return { fn, versions, owned, configMaps, pods, calls, events, statuses, versionStatuses, published, clock, deps, reconciler, get, status };
}

const envOf = (d: V1Deployment | undefined) => Object.fromEntries((d?.spec?.template.spec?.containers.find((c) => c.name === 'runtime')?.env ?? []).map((e) => [e.name, e.value]));

describe('a published version in the cluster', () => {
  it("runs from its own ConfigMap, Deployment and Service, named NAME-vN and owned by its FunctionVersion, under the namespace's NetworkPolicy", async () => {
    const c = fakeCluster(spec('"latest"'), [versionObject('1', spec('"one"'))]);
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toEqual(expect.arrayContaining(['apply ConfigMap/f-v1-code', 'apply Deployment/f-v1', 'apply Service/f-v1']));
    // One policy for the namespace, applied once for $LATEST and the version together.
    expect(c.calls.filter((x) => x.startsWith('apply NetworkPolicy/'))).toEqual(['apply NetworkPolicy/hearth-functions']);
    expect(c.get<WireObject>('NetworkPolicy', 'f-v1')).toBeUndefined();
    const owner = { apiVersion: 'hearth.dev/v1alpha1', kind: 'FunctionVersion', name: 'f-v1', uid: 'uid-v1', controller: true, blockOwnerDeletion: true };
    for (const [kind, name] of [['ConfigMap', 'f-v1-code'], ['Deployment', 'f-v1'], ['Service', 'f-v1']] as const) {
      const obj = c.get<WireObject>(kind, name);
      expect(obj?.metadata?.ownerReferences, `${kind} ${name}`).toEqual([owner]);
      expect(obj?.metadata?.labels, `${kind} ${name}`).toEqual({
        'app.kubernetes.io/name': 'f', 'app.kubernetes.io/managed-by': 'hearth', 'hearth.dev/version-of': 'f', 'hearth.dev/version': '1',
      });
    }
    // The snapshot's code, not $LATEST's.
    expect(c.get<V1ConfigMap>('ConfigMap', 'f-v1-code')?.data?.['app.py']).toContain('"one"');
    expect(c.get<V1ConfigMap>('ConfigMap', 'f-code')?.data?.['app.py']).toContain('"latest"');
    const d = c.get<V1Deployment>('Deployment', 'f-v1');
    expect(d?.spec?.template.spec?.volumes?.find((v) => v.name === 'code')?.configMap?.name).toBe('f-v1-code');
    expect(envOf(d)).toMatchObject({ AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_LAMBDA_FUNCTION_VERSION: '1' });
    expect(envOf(c.get<V1Deployment>('Deployment', 'f'))).toMatchObject({ AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_LAMBDA_FUNCTION_VERSION: '$LATEST' });
    expect(d?.spec?.template.spec?.containers.find((c) => c.name === 'agent')?.args).toEqual(expect.arrayContaining(['--function-name', 'f']));
    // The Function's own ServiceAccount.
    expect(d?.spec?.template.spec?.serviceAccountName).toBe('f');
  });

  it("selects only its own pods, and $LATEST's selectors never select them", async () => {
    const c = fakeCluster(spec(), [versionObject('1', spec('"one"')), versionObject('2', spec('"two"'))]);
    await c.reconciler.reconcile('n/f');
    const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
      Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
    const podLabels = (name: string) => c.get<V1Deployment>('Deployment', name)?.spec?.template.metadata?.labels;
    const v1 = podLabels('f-v1');
    expect(v1?.[LABEL_FUNCTION]).toBeUndefined();
    expect(c.get<V1Service>('Service', 'f-v1')?.spec?.selector).toEqual({ 'hearth.dev/version-of': 'f', 'hearth.dev/version': '1' });
    expect(c.get<V1Deployment>('Deployment', 'f-v1')?.spec?.selector.matchLabels).toEqual({ 'hearth.dev/version-of': 'f', 'hearth.dev/version': '1' });
    // The namespace's policy selects every version's pods, and $LATEST's.
    const policy = c.get<NetworkPolicy>('NetworkPolicy', 'hearth-functions')?.spec.podSelector.matchLabels;
    for (const name of ['f', 'f-v1', 'f-v2']) expect(matches(policy, podLabels(name)), name).toBe(true);
    for (const selector of [c.get<V1Service>('Service', 'f')?.spec?.selector, c.get<V1Deployment>('Deployment', 'f')?.spec?.selector.matchLabels]) {
      expect(matches(selector, v1)).toBe(false);
      expect(matches(selector, podLabels('f-v2'))).toBe(false);
      expect(matches(selector, podLabels('f'))).toBe(true);
    }
    expect(matches(c.get<V1Service>('Service', 'f-v1')?.spec?.selector, podLabels('f-v2'))).toBe(false);
    expect(matches(c.get<V1Service>('Service', 'f-v1')?.spec?.selector, podLabels('f'))).toBe(false);
  });

  it.each([
    ['no alias points to it: zero (it scales from zero)', {}, {}, 0],
    ['an alias asks for 2', { aliases: [{ name: 'live', version: '1', minInstances: 2 }] }, {}, 2],
    ['10 % of an alias asking for 4 goes to it (rounded up)', { aliases: [{ name: 'live', version: '2', minInstances: 4, additionalVersionWeights: { '1': 0.1 } }] }, {}, 1],
    ['the autoscaler set 5 through the scale subresource', { aliases: [{ name: 'live', version: '1', minInstances: 2 }] }, { replicas: 5 }, 5],
  ])('wants instances as %s', async (_what, fnExtra, vExtra, replicas) => {
    const c = fakeCluster(spec('"latest"', fnExtra), [versionObject('1', spec('"one"'), vExtra), versionObject('2', spec('"two"'))]);
    await c.reconciler.reconcile('n/f');
    expect(c.get<V1Deployment>('Deployment', 'f-v1')?.spec?.replicas).toBe(replicas);
    expect(c.versionStatuses.get('f-v1')).toMatchObject({ desiredInstances: replicas, selector: 'hearth.dev/version-of=f,hearth.dev/version=1' });
  });

  it('reports each version in its own status and in the Function\'s', async () => {
    const c = fakeCluster(spec('"latest"', { aliases: [{ name: 'live', version: '1', minInstances: 1 }] }), [versionObject('1', spec('"one"')), versionObject('2', spec('"two"'))]);
    await c.reconciler.reconcile('n/f');
    expect(c.versionStatuses.get('f-v1')).toMatchObject({
      readyInstances: 1, desiredInstances: 1, replicas: 1, selector: 'hearth.dev/version-of=f,hearth.dev/version=1', observedGeneration: 1,
      conditions: [expect.objectContaining({ type: 'Ready', status: 'True', reason: 'InstancesReady' })],
    });
    expect(c.versionStatuses.get('f-v2')?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True', reason: 'ScaledToZero' });
    expect(c.status().versions).toEqual([
      { version: '1', readyInstances: 1, desiredInstances: 1 },
      { version: '2', readyInstances: 0, desiredInstances: 0 },
    ]);
    expect(c.status().aliases).toBe('live=1');
    expect(c.status().conditions?.map((x) => [x.type, x.status])).toEqual([['Ready', 'True'], ['Updated', 'True'], ['AliasesValid', 'True']]);
    // Nothing changed: nothing is written again.
    c.calls.length = 0;
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toEqual([]);
  });

  it('says which alias points to a version that does not exist, by field path', async () => {
    const c = fakeCluster(spec('"latest"', { aliases: [{ name: 'live', version: '1' }, { name: 'canary', version: '1', additionalVersionWeights: { '7': 0.2 } }, { name: 'old', version: '3' }] }), [versionObject('1', spec('"one"'))]);
    await c.reconciler.reconcile('n/f');
    const cond = c.status().conditions?.find((x) => x.type === 'AliasesValid');
    expect(cond).toMatchObject({ status: 'False', reason: 'VersionMissing' });
    expect(cond?.message).toBe('spec.aliases[1].additionalVersionWeights["7"]: version 7 does not exist; spec.aliases[2].version: version 3 does not exist');
    expect(c.events).toContain(`Warning VersionMissing: ${cond?.message ?? ''}`);
    // The Function itself still runs.
    expect(c.status().conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True' });
  });

  it('never writes latestVersion, the store\'s counter, and does not take it for a change', async () => {
    const c = fakeCluster(spec(), [versionObject('1', spec('"one"'))]);
    await c.reconciler.reconcile('n/f');
    expect(c.statuses.every((s) => !('latestVersion' in s))).toBe(true);
    c.fn.status = { ...(c.fn.status as FunctionStatus), latestVersion: '4' };
    c.calls.length = 0;
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toEqual([]);
    expect(c.status().latestVersion).toBe('4');
  });

  it('tells of each new version once (Published) and of alias changes (AliasChanged)', async () => {
    const c = fakeCluster(spec(), [versionObject('1', spec('"one"'))]);
    await c.reconciler.reconcile('n/f');
    expect(c.events.filter((e) => e.includes('Published'))).toEqual(['Normal Published: published version 1']);
    c.fn.spec = spec('"latest"', { aliases: [{ name: 'live', version: '1' }] });
    await c.reconciler.reconcile('n/f');
    c.versions.push(versionObject('2', spec('"two"')));
    c.fn.spec = spec('"latest"', { aliases: [{ name: 'live', version: '1', additionalVersionWeights: { '2': 0.1 } }] });
    await c.reconciler.reconcile('n/f');
    c.fn.spec = spec('"latest"', { aliases: [{ name: 'live', version: '2' }, { name: 'dev', version: '$LATEST' }] });
    await c.reconciler.reconcile('n/f');
    c.fn.spec = spec('"latest"', { aliases: [{ name: 'dev', version: '$LATEST' }] });
    await c.reconciler.reconcile('n/f');
    await c.reconciler.reconcile('n/f');
    expect(c.events.filter((e) => e.includes('Published') || e.includes('AliasChanged'))).toEqual([
      'Normal Published: published version 1',
      'Normal AliasChanged: live: created → 1',
      'Normal Published: published version 2',
      'Normal AliasChanged: live: 1 → 1 + 10 % to 2',
      'Normal AliasChanged: live: 1 + 10 % to 2 → 2; dev: created → $LATEST',
      'Normal AliasChanged: live: 2 → deleted',
    ]);
    expect(c.status().aliases).toBe('dev=$LATEST');
  });

  it('rolls no version when the Function changes: its template stays, only alias minimums move its replicas', async () => {
    const c = fakeCluster(spec('"latest"'), [versionObject('1', spec('"one"'))]);
    await c.reconciler.reconcile('n/f');
    const before = c.get<V1Deployment>('Deployment', 'f-v1');
    c.calls.length = 0;
    c.fn.spec = spec('"changed"', { memoryMB: 512, env: [{ name: 'A', value: 'b' }], reservedConcurrency: 50 });
    c.clock.t += 10_000;
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toEqual(expect.arrayContaining(['apply ConfigMap/f-code', 'apply Deployment/f']));
    expect(c.calls.filter((x) => x.includes('f-v1') && x.startsWith('apply'))).toEqual([]);
    c.fn.spec = spec('"changed"', { aliases: [{ name: 'live', version: '1', minInstances: 3 }] });
    c.clock.t += 10_000;
    c.calls.length = 0;
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.includes('f-v1') && x.startsWith('apply'))).toEqual(['apply Deployment/f-v1']);
    const after = c.get<V1Deployment>('Deployment', 'f-v1');
    expect(after?.spec?.replicas).toBe(3);
    expect(after?.spec?.template).toEqual(before?.spec?.template);
    expect(after?.spec?.template.metadata?.annotations?.[ANNOTATION_CODE_HASH]).toBe(before?.spec?.template.metadata?.annotations?.[ANNOTATION_CODE_HASH]);
  });

  it('repairs a version\'s Deployment edited by hand', async () => {
    const c = fakeCluster(spec(), [versionObject('1', spec('"one"'))]);
    await c.reconciler.reconcile('n/f');
    const d = c.get<V1Deployment>('Deployment', 'f-v1') as V1Deployment;
    c.owned.set('Deployment/f-v1', { ...(d as WireObject), spec: { ...d.spec, template: { ...d.spec?.template, metadata: { labels: { tampered: 'yes' } } } } });
    c.clock.t += 10_000;
    c.calls.length = 0;
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toEqual(['apply Deployment/f-v1']);
  });

  it('keeps the ConfigMap copy the store made of a version\'s ConfigMap code (it bears the name inline code would)', async () => {
    const v = versionObject('1', { ...spec(), code: { configMap: { name: 'src' } } });
    (v.spec as { snapshot: { code: unknown } }).snapshot.code = { configMap: { name: 'f-v1-code' } };
    const c = fakeCluster(spec(), [v]);
    c.owned.set('ConfigMap/f-v1-code', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'f-v1-code', ownerReferences: [{ uid: 'uid-v1' }] }, data: { 'app.py': 'x' } });
    await c.reconciler.reconcile('n/f');
    expect(c.calls).not.toContain('remove ConfigMap/f-v1-code');
    expect(c.get<V1Deployment>('Deployment', 'f-v1')?.spec?.template.spec?.volumes?.find((x) => x.name === 'code')?.configMap?.name).toBe('f-v1-code');
  });

  it("keeps the Function's own ServiceAccount while a version runs as it, after $LATEST names another", async () => {
    const c = fakeCluster(spec(), [versionObject('1', spec('"one"'))]);
    await c.reconciler.reconcile('n/f');
    c.fn.spec = spec('"latest"', { serviceAccountName: 'role' });
    c.clock.t += 10_000;
    await c.reconciler.reconcile('n/f');
    expect(c.calls).not.toContain('remove ServiceAccount/f');
    expect(c.get<V1Deployment>('Deployment', 'f')?.spec?.template.spec?.serviceAccountName).toBe('role');
    expect(c.get<V1Deployment>('Deployment', 'f-v1')?.spec?.template.spec?.serviceAccountName).toBe('f');
    c.versions.length = 0;
    c.clock.t += 10_000;
    await c.reconciler.reconcile('n/f');
    expect(c.calls).toContain('remove ServiceAccount/f');
  });

  it('refuses a version this cluster cannot run in its own status, building nothing of it', async () => {
    const v = versionObject('1', spec());
    (v.spec as { snapshot: { code: unknown } }).snapshot.code = { package: { path: 'app.zip' } };
    const c = fakeCluster(spec(), [v]);
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.includes('f-v1'))).toEqual(['version status f-v1']);
    expect(c.versionStatuses.get('f-v1')?.conditions?.[0]).toMatchObject({ status: 'False', reason: 'UnsupportedSpec', message: expect.stringContaining('spec.snapshot.code.package.path') });
    expect(c.status().versions ?? []).toEqual([]);
  });

  it("ignores versions owned by an earlier Function of the same name", async () => {
    const stale = versionObject('1', spec('"one"'));
    stale.metadata = { ...stale.metadata, ownerReferences: [{ kind: 'Function', uid: 'uid-of-the-deleted-one' }] };
    const c = fakeCluster(spec(), [stale]);
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.includes('f-v1'))).toEqual([]);
  });

  it('leaves a refused Function\'s versions running and its version fields as they were', async () => {
    const c = fakeCluster(spec('"latest"', { aliases: [{ name: 'live', version: '1' }] }), [versionObject('1', spec('"one"'))]);
    await c.reconciler.reconcile('n/f');
    c.fn.spec = { ...spec(), schedules: [{ name: 't', cron: 'nope' }] };
    c.calls.length = 0;
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'invalid' });
    expect(c.calls).toEqual(['status']);
    expect(c.status()).toMatchObject({ aliases: 'live=1', versions: [{ version: '1' }] });
    expect(c.events.filter((e) => e.includes('AliasChanged'))).toEqual(['Normal AliasChanged: live: created → 1']);
  });
});

describe('versioning.publishOnChange', () => {
  it('publishes once per change of the code or configuration, not for alias or scaling changes', async () => {
    const s1 = spec('"one"', { versioning: { publishOnChange: true } });
    const c = fakeCluster(s1);
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x === 'publish')).toHaveLength(1);
    // Before the cache shows the new version, a reconcile does not ask again.
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x === 'publish')).toHaveLength(1);
    c.versions.push(versionObject('1', s1));
    c.clock.t += 10_000;
    await c.reconciler.reconcile('n/f');
    // Aliases, schedules, reserved concurrency and replicas belong to the function, not to a version.
    c.fn.spec = { ...s1, aliases: [{ name: 'live', version: '1', minInstances: 1 }], reservedConcurrency: 7, replicas: 3, schedules: [{ name: 't', cron: '0 * * * *' }] };
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x === 'publish')).toHaveLength(1);
    const s2 = spec('"two"', { versioning: { publishOnChange: true } });
    c.fn.spec = s2;
    c.clock.t += 10_000;
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x === 'publish')).toHaveLength(2);
    c.versions.push(versionObject('2', s2));
    c.clock.t += 10_000;
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x === 'publish')).toHaveLength(2);
  });

  it('never publishes without it', async () => {
    const c = fakeCluster(spec('"one"'));
    await c.reconciler.reconcile('n/f');
    c.fn.spec = spec('"two"');
    await c.reconciler.reconcile('n/f');
    expect(c.calls).not.toContain('publish');
  });

  it("counts the bytes of a ConfigMap the code comes from: an edited ConfigMap is a change", async () => {
    const s = { runtime: 'python3.12', handler: 'app.handler', code: { configMap: { name: 'src' } }, versioning: { publishOnChange: true } };
    const c = fakeCluster(s);
    // Missing: the store could not copy it, so nothing is asked.
    await c.reconciler.reconcile('n/f');
    expect(c.calls).not.toContain('publish');
    c.configMaps.set('src', { data: { 'app.py': 'one' } });
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x === 'publish')).toHaveLength(1);
    // The version as the store makes it: the digest over the snapshot and the bytes.
    const { configMapRefs, referencedBytes } = await import('../../src/store/configmap-copies.js');
    const fn = FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' }, spec: s });
    const snap = snapshotOf(fn.spec);
    const v = versionObject('1', s);
    (v.spec as { codeSha256: string }).codeSha256 = snapshotDigest(snap, referencedBytes(configMapRefs(snap), [{ data: { 'app.py': 'one' } }]));
    c.versions.push(v);
    c.clock.t += 10_000;
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x === 'publish')).toHaveLength(1);
    c.configMaps.set('src', { data: { 'app.py': 'two' } });
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x === 'publish')).toHaveLength(2);
  });

  it('tells of a publish the store refuses, and does not fail the reconcile', async () => {
    const c = fakeCluster(spec('"one"', { versioning: { publishOnChange: true } }));
    c.deps.publish = async () => {
      throw new StoreError('invalid', 'no', [{ path: 'spec.code.configMap.name', message: 'ConfigMap src does not exist' }]);
    };
    expect(await c.reconciler.reconcile('n/f')).toEqual({ result: 'success' });
    expect(c.events).toContain('Warning PublishFailed: spec.code.configMap.name: ConfigMap src does not exist');
  });
});

describe('versioning.retain', () => {
  it('deletes the oldest versions past the count, except those an alias points to', async () => {
    const vs = ['1', '2', '3', '4', '5'].map((n) => versionObject(n, spec(`"${n}"`)));
    const c = fakeCluster(spec('"latest"', { versioning: { retain: 2 }, aliases: [{ name: 'old', version: '1' }, { name: 'live', version: '4', additionalVersionWeights: { '2': 0.5 } }] }), vs);
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.startsWith('delete version'))).toEqual(['delete version 3']);
    expect(c.events).toContain('Normal VersionDeleted: deleted version 3: more than 2 versions are kept (versioning.retain)');
    c.calls.length = 0;
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.startsWith('delete version'))).toEqual([]);
  });

  it('keeps every version without it, and takes a version the store refuses to delete for the next reconcile', async () => {
    const vs = ['1', '2', '3'].map((n) => versionObject(n, spec(`"${n}"`)));
    const c = fakeCluster(spec(), vs);
    await c.reconciler.reconcile('n/f');
    expect(c.calls.filter((x) => x.startsWith('delete version'))).toEqual([]);
    c.fn.spec = spec('"latest"', { versioning: { retain: 1 } });
    c.deps.deleteVersion = async () => {
      throw new StoreError('conflict', 'version 1 is used by alias live');
    };
    await expect(c.reconciler.reconcile('n/f')).resolves.toBeDefined();
  });
});
