// The cluster's home of versions and aliases, against a real API server:
// KubernetesStore writes FunctionVersion objects (numbered from the
// Function's status.latestVersion, owned by the Function, immutable, their
// ConfigMap code copied), aliases into the Function's spec, and refuses
// what the design refuses with the store's error kinds and field paths.
// The gateway's watch then hands the versions to its catalog.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { FunctionSchema, type FunctionSpecInput } from '../../src/api/function.js';
import type { FunctionVersion } from '../../src/api/function-version.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { CONTENT_MERGE, KubeApiError, KubeRest } from '../../src/kube/rest.js';
import { watchClusterFunctions, type FunctionWatch } from '../../src/platform/function-watch.js';
import { StoreError, type StoreErrorKind } from '../../src/store/function-store.js';
import { KubernetesStore } from '../../src/store/kubernetes-store.js';
import { snapshotOf } from '../../src/versions/snapshot.js';
import { createNamespace, deleteNamespace, eventually, functionManifest, getOrUndefined } from './controller-helpers.js';
import { applyDir, waitEstablished } from './crds.js';
import { k8sContext, kubeConfigFor } from './kube.js';
import pino from 'pino';

const ctx = k8sContext();
const crdsDir = fileURLToPath(new URL('../../crds/', import.meta.url));

const spec = (body = 'return 1', extra: Partial<FunctionSpecInput> = {}): FunctionSpecInput => ({
  runtime: 'python3.12',
  handler: 'app.handler',
  code: { inline: { 'app.py': `def handler(event, context):\n    ${body}\n` } },
  ...extra,
});

interface Wire {
  metadata: { name: string; uid: string; resourceVersion: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[] };
  spec: Record<string, unknown>;
  status?: { latestVersion?: string };
}

interface ConfigMapWire {
  metadata: { name: string; ownerReferences?: { kind: string; name: string; uid: string }[]; labels?: Record<string, string> };
  immutable?: boolean;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

async function refusal(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof StoreError) return err;
    throw err;
  }
  throw new Error('expected a StoreError, got success');
}

async function expectRefused(p: Promise<unknown>, kind: StoreErrorKind, path?: string): Promise<StoreError> {
  const e = await refusal(p);
  expect(e.kind, e.message).toBe(kind);
  if (path !== undefined) expect(e.problems.map((x) => x.path), e.message).toContain(path);
  return e;
}

if (!ctx.available) {
  describe.skip(`versions in the cluster (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('KubernetesStore against a real API server', () => {
    const ns = `ver-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    const store = new KubernetesStore({ rest, namespace: ns, inFlightWaitMs: 1000 });

    const getFn = async (name: string) => rest.request<Wire>('GET', resourcePath(RESOURCES.Function, ns, name));
    const getFv = async (name: string) => rest.request<Wire & { spec: FunctionVersion['spec'] }>('GET', resourcePath(RESOURCES.FunctionVersion, ns, name));
    const getCm = async (name: string) => rest.request<ConfigMapWire>('GET', resourcePath(RESOURCES.ConfigMap, ns, name));
    const create = async (name: string, s: FunctionSpecInput) => rest.request<Wire>('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest(name, s as Record<string, unknown>) });
    const edit = async (name: string, s: Partial<FunctionSpecInput>) => rest.request<Wire>('PATCH', resourcePath(RESOURCES.Function, ns, name), { body: { spec: s }, contentType: CONTENT_MERGE });

    beforeAll(async () => {
      await applyDir(ctx.kubectl, ctx.kubeconfigPath, crdsDir);
      await waitEstablished(kc, ['functions.hearth.dev', 'functionversions.hearth.dev']);
      await createNamespace(rest, ns);
      // Established is not yet served: a new CRD's storage answers 429 "storage is (re)initializing" for a moment.
      await eventually('FunctionVersions served', async () => ((await rest.request('GET', resourcePath(RESOURCES.FunctionVersion, ns))) !== undefined ? true : undefined), 30_000);
    });

    afterAll(async () => {
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('publishes versions 1 and 2 across a change, labelled, owned by the Function, immutable; unchanged returns the latest', async () => {
      const fn = await create('alpha', spec('return 1'));
      const v1 = await store.publishVersion('alpha', { description: 'first' });
      expect(v1.created).toBe(true);
      expect(v1.version.metadata.name).toBe('alpha-v1');
      expect(v1.version.spec).toMatchObject({ function: 'alpha', version: '1', description: 'first' });
      expect(v1.version.spec.codeSha256).toMatch(/^[a-f0-9]{64}$/);

      const obj = await getFv('alpha-v1');
      expect(obj.metadata.labels).toMatchObject({ 'hearth.dev/version-of': 'alpha', 'hearth.dev/version': '1', 'app.kubernetes.io/managed-by': 'hearth' });
      expect(obj.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Function', name: 'alpha', uid: fn.metadata.uid, controller: true })]);
      // The snapshot is the spec as published, minus what belongs to the function as a whole.
      const validated = FunctionSchema.parse({ ...(await getFn('alpha')), status: undefined });
      expect(obj.spec.snapshot).toEqual(JSON.parse(JSON.stringify(snapshotOf(validated.spec))));
      expect((await getFn('alpha')).status?.latestVersion).toBe('1');

      // Unchanged: the same version, nothing new, whatever the description says.
      const again = await store.publishVersion('alpha', { description: 'ignored' });
      expect(again.created).toBe(false);
      expect(again.version.spec.version).toBe('1');

      // An alias or a schedule is not code or configuration of a version: still unchanged.
      await edit('alpha', { reservedConcurrency: 7 });
      expect((await store.publishVersion('alpha')).created).toBe(false);

      await edit('alpha', { code: { inline: { 'app.py': 'def handler(event, context):\n    return 2\n' } } });
      const v2 = await store.publishVersion('alpha');
      expect(v2.created).toBe(true);
      expect(v2.version.spec.version).toBe('2');
      expect(v2.version.spec.codeSha256).not.toBe(v1.version.spec.codeSha256);
      expect((await getFn('alpha')).status?.latestVersion).toBe('2');
      expect((await store.listVersions('alpha')).map((v) => v.spec.version)).toEqual(['1', '2']);

      // Immutable: the API server refuses a changed snapshot of a published version.
      const err = await rest
        .request('PATCH', resourcePath(RESOURCES.FunctionVersion, ns, 'alpha-v1'), { body: { spec: { snapshot: { memoryMB: 1024 } } }, contentType: CONTENT_MERGE })
        .then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(KubeApiError);
      expect((err as KubeApiError).statusCode).toBe(422);
      expect((await getFv('alpha-v1')).spec.snapshot).toEqual(obj.spec.snapshot);
    });

    it('never reuses a number: delete version 2, publish, get 3', async () => {
      await store.deleteVersion('alpha', '2');
      await eventually('alpha-v2 gone', async () => ((await getOrUndefined(rest, RESOURCES.FunctionVersion, ns, 'alpha-v2')) === undefined ? true : undefined));
      expect((await store.listVersions('alpha')).map((v) => v.spec.version)).toEqual(['1']);
      // The function still holds version 2's code, which differs from version 1's: a new version, numbered past the deleted one.
      const v3 = await store.publishVersion('alpha');
      expect(v3.created).toBe(true);
      expect(v3.version.spec.version).toBe('3');
      expect((await getFn('alpha')).status?.latestVersion).toBe('3');
      await expectRefused(store.deleteVersion('alpha', '2'), 'not-found');
      await expectRefused(store.deleteVersion('alpha', 'two'), 'not-found');
      await expectRefused(store.deleteVersion('alpha', '$LATEST'), 'invalid');
    });

    it('two publishes at once never clash: one number each, and of one unchanged function one version', async () => {
      await create('beta', spec('return "b1"'));
      // Different code each time: every publish takes a number of its own.
      const numbers: string[] = [];
      for (let round = 0; round < 3; round++) {
        await edit('beta', { code: { inline: { 'app.py': `def handler(event, context):\n    return ${round}\n` } } });
        const results = await Promise.all([store.publishVersion('beta'), store.publishVersion('beta')]);
        // Both saw the same change: one creates the version, the other gets it back.
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.version.spec.version)).size).toBe(1);
        numbers.push(results[0]?.version.spec.version ?? '');
      }
      expect(numbers).toEqual(['1', '2', '3']);
      // Four at once, racing on the counter while the function changes in between: no number twice, none lost.
      const racing = await Promise.all(
        [0, 1, 2, 3].map(async (i) => {
          await edit('beta', { env: [{ name: 'ROUND', value: String(i) }] });
          return store.publishVersion('beta');
        }),
      );
      const listed = (await store.listVersions('beta')).map((v) => v.spec.version);
      expect(new Set(listed).size).toBe(listed.length);
      for (const r of racing) expect(listed).toContain(r.version.spec.version);
      expect((await getFn('beta')).status?.latestVersion).toBe(listed[listed.length - 1]);
    });

    it('copies ConfigMap code into immutable ConfigMaps owned by the version; an edit of the original does not change it', async () => {
      const zip = Buffer.from('PK\x05\x06'.padEnd(22, '\0')).toString('base64');
      await rest.request('POST', resourcePath(RESOURCES.ConfigMap, ns), { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gamma-src' }, data: { 'app.py': 'def handler(e, c):\n    return "one"\n', 'util.py': 'X = 1\n' } } });
      await rest.request('POST', resourcePath(RESOURCES.ConfigMap, ns), { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'gamma-libs' }, binaryData: { 'lib.zip': zip, 'unused.zip': zip } } });
      await create('gamma', spec('', { code: { configMap: { name: 'gamma-src' } }, layers: [{ configMap: { name: 'gamma-libs', key: 'lib.zip' } }, { configMap: { name: 'gamma-none', key: 'x.zip', optional: true } }] }));
      const v1 = await store.publishVersion('gamma');
      expect(v1.version.spec.snapshot.code.configMap).toEqual({ name: 'gamma-v1-code' });
      expect(v1.version.spec.snapshot.layers?.map((l) => l.configMap?.name)).toEqual(['gamma-v1-layer-0', 'gamma-v1-layer-1']);

      const fv = await getFv('gamma-v1');
      const code = await getCm('gamma-v1-code');
      expect(code.immutable).toBe(true);
      expect(code.data).toEqual({ 'app.py': 'def handler(e, c):\n    return "one"\n', 'util.py': 'X = 1\n' });
      expect(code.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'FunctionVersion', name: 'gamma-v1', uid: fv.metadata.uid })]);
      expect(code.metadata.labels).toMatchObject({ 'hearth.dev/version-of': 'gamma', 'hearth.dev/version': '1' });
      const layer = await getCm('gamma-v1-layer-0');
      expect(layer.binaryData).toEqual({ 'lib.zip': zip });
      expect(layer.immutable).toBe(true);
      // The optional layer that does not exist stays missing in the version: no copy.
      expect(await getOrUndefined(rest, RESOURCES.ConfigMap, ns, 'gamma-v1-layer-1')).toBeUndefined();

      // The original is edited: the version keeps its copy, and the function has changed.
      await rest.request('PATCH', resourcePath(RESOURCES.ConfigMap, ns, 'gamma-src'), { body: { data: { 'app.py': 'def handler(e, c):\n    return "two"\n' } }, contentType: CONTENT_MERGE });
      expect((await getCm('gamma-v1-code')).data?.['app.py']).toContain('"one"');
      expect((await getFv('gamma-v1')).spec).toEqual(fv.spec);
      const v2 = await store.publishVersion('gamma');
      expect(v2.created).toBe(true);
      expect((await getCm('gamma-v2-code')).data?.['app.py']).toContain('"two"');
      // A key of the layer's ConfigMap the layer does not read is no change.
      await rest.request('PATCH', resourcePath(RESOURCES.ConfigMap, ns, 'gamma-libs'), { body: { binaryData: { 'unused.zip': Buffer.from('other').toString('base64') } }, contentType: CONTENT_MERGE });
      expect((await store.publishVersion('gamma')).created).toBe(false);

      // Deleting a version takes its copies with it (garbage collection of what it owns).
      await store.deleteVersion('gamma', '1');
      await eventually('gamma-v1-code collected', async () => ((await getOrUndefined(rest, RESOURCES.ConfigMap, ns, 'gamma-v1-code')) === undefined ? true : undefined));

      // Code that does not exist cannot be published, and no number is spent on it.
      await create('gamma-missing', spec('', { code: { configMap: { name: 'nowhere' } } }));
      await expectRefused(store.publishVersion('gamma-missing'), 'invalid', 'spec.code.configMap.name');
      expect((await getFn('gamma-missing')).status?.latestVersion).toBeUndefined();
    });

    it("checks the caller's expected digest", async () => {
      await create('delta', spec('return "d"'));
      await expectRefused(store.publishVersion('delta', { expectedDigest: 'f'.repeat(64) }), 'precondition');
      const v1 = await store.publishVersion('delta');
      const same = await store.publishVersion('delta', { expectedDigest: v1.version.spec.codeSha256 });
      expect(same).toMatchObject({ created: false, version: { spec: { version: '1' } } });
    });

    it('answers not-found for a function that does not exist', async () => {
      await expectRefused(store.publishVersion('nobody'), 'not-found');
      await expectRefused(store.listVersions('nobody'), 'not-found');
      await expectRefused(store.listAliases('nobody'), 'not-found');
      await expectRefused(store.putAlias('nobody', { name: 'live', version: '$LATEST' }, 'put'), 'not-found');
      await expectRefused(store.deleteVersion('nobody', '1'), 'not-found');
    });

    it('creates, updates, puts and deletes aliases in the Function, checked against the versions that exist', async () => {
      await create('eps', spec('return "e1"'));
      await store.publishVersion('eps');
      await edit('eps', { code: { inline: { 'app.py': 'def handler(event, context):\n    return "e2"\n' } } });
      await store.publishVersion('eps');

      const live = await store.putAlias('eps', { name: 'live', version: '1', description: 'production' }, 'create');
      expect(live).toEqual({ name: 'live', version: '1', minInstances: 0, description: 'production' });
      // In the Function itself, where kubectl and GitOps see it.
      expect((await getFn('eps')).spec['aliases']).toEqual([{ name: 'live', version: '1', minInstances: 0, description: 'production' }]);
      await expectRefused(store.putAlias('eps', { name: 'live', version: '2' }, 'create'), 'conflict');
      await expectRefused(store.putAlias('eps', { name: 'canary', version: '2' }, 'update'), 'not-found');

      const shifted = await store.putAlias('eps', { name: 'live', version: '1', additionalVersionWeights: { '2': 0.1 } }, 'update');
      expect(shifted.additionalVersionWeights).toEqual({ '2': 0.1 });
      await store.putAlias('eps', { name: 'edge', version: '$LATEST', minInstances: 1 }, 'put');
      expect((await store.listAliases('eps')).map((a) => [a.name, a.version, a.minInstances])).toEqual([['live', '1', 0], ['edge', '$LATEST', 1]]);

      // Each rule broken, with the field path of the alias it concerns (index 2: it would be the third).
      await expectRefused(store.putAlias('eps', { name: 'bad', version: '1', additionalVersionWeights: { '2': 1.5 } }, 'put'), 'invalid', 'spec.aliases[2].additionalVersionWeights["2"]');
      await expectRefused(store.putAlias('eps', { name: 'bad', version: '1', additionalVersionWeights: { '2': 0.1, '3': 0.1 } }, 'put'), 'invalid', 'spec.aliases[2].additionalVersionWeights');
      await expectRefused(store.putAlias('eps', { name: 'bad', version: '9' }, 'put'), 'invalid', 'spec.aliases[2].version');
      await expectRefused(store.putAlias('eps', { name: 'bad', version: '1', additionalVersionWeights: { '9': 0.5 } }, 'put'), 'invalid', 'spec.aliases[2].additionalVersionWeights["9"]');
      await expectRefused(store.putAlias('eps', { name: '12', version: '1' }, 'put'), 'invalid', 'spec.aliases[2].name');
      await expectRefused(store.putAlias('eps', { name: '$LATEST', version: '1' }, 'put'), 'invalid', 'spec.aliases[2].name');
      // Updating live to a missing version names live's own index.
      await expectRefused(store.putAlias('eps', { name: 'live', version: '7' }, 'put'), 'invalid', 'spec.aliases[0].version');
      expect((await store.listAliases('eps')).map((a) => a.name)).toEqual(['live', 'edge']);

      await store.deleteAlias('eps', 'edge');
      await expectRefused(store.deleteAlias('eps', 'edge'), 'not-found');
      expect((await store.listAliases('eps')).map((a) => a.name)).toEqual(['live']);
    });

    it('refuses to delete a version an alias points to, by weight too', async () => {
      await expectRefused(store.deleteVersion('eps', '1'), 'conflict');
      const e = await expectRefused(store.deleteVersion('eps', '2'), 'conflict');
      expect(e.message).toContain('live');
      await store.putAlias('eps', { name: 'live', version: '2' }, 'put');
      await store.deleteVersion('eps', '1');
      await store.deleteAlias('eps', 'live');
      expect((await getFn('eps')).spec['aliases']).toBeUndefined();
      await store.deleteVersion('eps', '2');
      await eventually('eps versions gone', async () => ((await store.listVersions('eps')).length === 0 ? true : undefined));
    });

    it('writes aliases from many callers at once without losing one', async () => {
      await create('zeta', spec('return "z"'));
      await store.publishVersion('zeta');
      await Promise.all(['a', 'b', 'c', 'd', 'e'].map((n) => store.putAlias('zeta', { name: n, version: '1' }, 'create')));
      expect((await store.listAliases('zeta')).map((a) => a.name).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it("writes a function URL's invoke mode: the function's spec.url through updateFunction, an alias's url through putAlias", async () => {
      await create('theta', spec('return "h"'));
      await store.publishVersion('theta');
      await store.putAlias('theta', { name: 'live', version: '1' }, 'create');
      await store.updateFunction('theta', (s) => ({ ...s, url: { invokeMode: 'RESPONSE_STREAM' } }));
      const [alias] = await store.listAliases('theta');
      await store.putAlias('theta', { ...(alias as NonNullable<typeof alias>), url: { invokeMode: 'RESPONSE_STREAM' } }, 'update');
      const wire = await getFn('theta');
      expect(wire.spec['url']).toEqual({ invokeMode: 'RESPONSE_STREAM' });
      expect(wire.spec['aliases']).toEqual([{ name: 'live', version: '1', minInstances: 0, url: { invokeMode: 'RESPONSE_STREAM' } }]);
      expect((await store.getFunction('theta')).fn.spec.aliases?.[0]?.url).toEqual({ invokeMode: 'RESPONSE_STREAM' });
    });

    describe("the gateway's watch", () => {
      let watch: FunctionWatch | undefined;
      const catalog = new MemoryCatalog();
      afterAll(async () => {
        await watch?.stop();
      });

      it('hands the published versions to the catalog, and their deletion', async () => {
        const changed: string[] = [];
        catalog.onChange((n) => changed.push(n));
        watch = await watchClusterFunctions({ kubeConfig: kc, namespace: ns, catalog, logger: pino({ level: 'silent' }) });
        expect(catalog.versions('alpha').map((v) => v.spec.version)).toEqual(['1', '3']);
        await create('eta', spec('return "h"'));
        await store.publishVersion('eta');
        await eventually('eta:1 in the catalog', async () => (catalog.versions('eta').length === 1 ? true : undefined), 10_000);
        expect(catalog.versions('eta')[0]?.spec.snapshot.code.inline?.['app.py']).toContain('"h"');
        // A status write (the controller's instance counts) changes nothing that serves: no notice.
        const before = changed.filter((n) => n === 'eta').length;
        await rest.request('PATCH', resourcePath(RESOURCES.FunctionVersion, ns, 'eta-v1', 'status'), { body: { status: { readyInstances: 0, desiredInstances: 0 } }, contentType: CONTENT_MERGE });
        await store.deleteVersion('alpha', '1');
        await eventually('alpha:1 gone from the catalog', async () => (catalog.versions('alpha').map((v) => v.spec.version).join() === '3' ? true : undefined), 10_000);
        expect(changed.filter((n) => n === 'eta').length).toBe(before);
      });
    });
  });
}
