// The cluster's home of Functions, against a real API server: KubernetesStore
// creates, reads, lists, updates (a PUT at the resourceVersion read, retried
// after a concurrent writer, refused on a stale expected revision) and
// deletes the same Function objects `kubectl apply` writes, and reads what
// the controller observed from their status.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { CONTENT_MERGE, KubeRest, type RequestOptions } from '../../src/kube/rest.js';
import { KubernetesStore, lastModifiedOf } from '../../src/store/kubernetes-store.js';
import { createNamespace, deleteNamespace, eventually, functionManifest, getOrUndefined } from './controller-helpers.js';
import { applyDir, waitEstablished } from './crds.js';
import { k8sContext, kubeConfigFor } from './kube.js';
import { refused } from '../helpers/store-refusals.js';

const ctx = k8sContext();
const crdsDir = fileURLToPath(new URL('../../crds/', import.meta.url));

const spec = (body = 'return 1', extra: Partial<FunctionSpecInput> = {}): FunctionSpecInput => ({
  runtime: 'python3.12',
  handler: 'app.handler',
  code: { inline: { 'app.py': `def handler(event, context):\n    ${body}\n` } },
  ...extra,
});

/** The API server client, with another writer's request run just before the next PUT. */
class RacingRest extends KubeRest {
  beforeNextPut: (() => Promise<unknown>) | undefined;

  override async request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T> {
    const before = method === 'PUT' ? this.beforeNextPut : undefined;
    if (before !== undefined) {
      this.beforeNextPut = undefined;
      await before();
    }
    return super.request<T>(method, path, opts);
  }
}

interface Wire {
  metadata: { name: string; uid: string; resourceVersion: string; generation: number; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

describe('lastModifiedOf', () => {
  const cases: Array<{ what: string; md: Parameters<typeof lastModifiedOf>[0]; expected: string | undefined }> = [
    { what: 'nothing known', md: {}, expected: undefined },
    { what: 'only created', md: { creationTimestamp: '2026-01-01T00:00:00Z' }, expected: '2026-01-01T00:00:00.000Z' },
    {
      what: 'the newest write of the object, not of its status',
      md: {
        creationTimestamp: '2026-01-01T00:00:00Z',
        managedFields: [
          { time: '2026-01-02T00:00:00Z' },
          { time: '2026-01-05T00:00:00Z', subresource: 'status' },
          { time: '2026-01-03T00:00:00Z' },
        ],
      },
      expected: '2026-01-03T00:00:00.000Z',
    },
  ];
  for (const c of cases) it(c.what, () => expect(lastModifiedOf(c.md)).toBe(c.expected));
});

if (!ctx.available) {
  describe.skip(`functions in the cluster (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('KubernetesStore functions against a real API server', () => {
    const ns = `fns-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    const store = new KubernetesStore({ rest, namespace: ns });

    const getFn = async (name: string) => rest.request<Wire>('GET', resourcePath(RESOURCES.Function, ns, name));
    const edit = async (name: string, s: Partial<FunctionSpecInput>) => rest.request<Wire>('PATCH', resourcePath(RESOURCES.Function, ns, name), { body: { spec: s }, contentType: CONTENT_MERGE });
    const setStatus = async (name: string, status: Record<string, unknown>) =>
      rest.request<Wire>('PATCH', resourcePath(RESOURCES.Function, ns, name, 'status'), { body: { status }, contentType: CONTENT_MERGE });

    beforeAll(async () => {
      await applyDir(ctx.kubectl, ctx.kubeconfigPath, crdsDir);
      await waitEstablished(kc, ['functions.hearth.dev', 'functionversions.hearth.dev']);
      await createNamespace(rest, ns);
      // Established is not yet served: a new CRD's storage answers 429 "storage is (re)initializing" for a moment.
      for (const r of [RESOURCES.Function, RESOURCES.FunctionVersion]) {
        await eventually(`${r.plural} served`, async () => ((await rest.request('GET', resourcePath(r, ns)).catch(() => undefined)) !== undefined ? true : undefined), 30_000);
      }
    });

    afterAll(async () => {
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('creates the Function object kubectl would, refuses the same name again and an invalid spec', async () => {
      const stored = await store.createFunction({ name: 'alpha', spec: spec('return 1', { description: 'first', tags: { team: 'a' } }), labels: { app: 'demo' } });
      const obj = await getFn('alpha');
      expect(obj.metadata.labels).toEqual({ app: 'demo' });
      expect(obj.spec).toMatchObject({ runtime: 'python3.12', description: 'first', tags: { team: 'a' } });
      expect(stored.revision).toBe(obj.metadata.resourceVersion);
      expect(stored.fn.spec).toMatchObject({ memoryMB: 128, description: 'first' });
      expect(stored.fn.metadata).toMatchObject({ name: 'alpha', namespace: ns, uid: obj.metadata.uid });
      expect(Date.parse(stored.lastModified ?? '')).toBeGreaterThan(Date.now() - 120_000);
      // No controller runs here: nothing observed it yet.
      expect(stored.observation).toEqual({ served: false, current: false });

      expect((await refused(store.createFunction({ name: 'alpha', spec: spec() }), 'conflict')).message).toBe('Function already exist: alpha');
      const bad = await refused(store.createFunction({ name: 'beta', spec: { ...spec(), memoryMB: 1 } }), 'invalid');
      expect(bad.problems.map((p) => p.path)).toEqual(['spec.memoryMB']);
      expect(await getOrUndefined(rest, RESOURCES.Function, ns, 'beta')).toBeUndefined();
    });

    it('gets and lists by name, what kubectl made too; absent is not-found', async () => {
      await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest('by-kubectl', spec('return 2') as Record<string, unknown>) });
      await store.createFunction({ name: 'aardvark', spec: spec() });
      const list = await store.listFunctions();
      expect(list.map((f) => f.fn.metadata.name)).toEqual(['aardvark', 'alpha', 'by-kubectl']);
      const got = await store.getFunction('by-kubectl');
      expect(got).toEqual(list[2]);
      expect(got.revision).toBe((await getFn('by-kubectl')).metadata.resourceVersion);
      expect((await refused(store.getFunction('nope'), 'not-found')).message).toBe('Function not found: nope');
    });

    it('updates the spec as stored; a kubectl edit shows in the next read; a stale revision is a precondition', async () => {
      const before = await store.getFunction('alpha');
      let seen: FunctionSpecInput | undefined;
      const after = await store.updateFunction(
        'alpha',
        (s) => {
          seen = s;
          return { ...s, memoryMB: 256 };
        },
        { expectedRevision: before.revision },
      );
      expect(seen).toMatchObject({ runtime: 'python3.12', description: 'first', tags: { team: 'a' } });
      expect(after.fn.spec.memoryMB).toBe(256);
      expect(after.revision).not.toBe(before.revision);
      expect((await getFn('alpha')).spec['memoryMB']).toBe(256);
      expect((await getFn('alpha')).metadata.labels).toEqual({ app: 'demo' });

      await refused(store.updateFunction('alpha', (s) => ({ ...s, memoryMB: 512 }), { expectedRevision: before.revision }), 'precondition');
      await edit('alpha', { timeoutSeconds: 9 });
      const edited = await store.getFunction('alpha');
      expect(edited.fn.spec).toMatchObject({ timeoutSeconds: 9, memoryMB: 256 });
      await refused(store.updateFunction('alpha', (s) => s, { expectedRevision: after.revision }), 'precondition');

      const bad = await refused(store.updateFunction('alpha', (s) => ({ ...s, memoryMB: 3 })), 'invalid');
      expect(bad.problems.map((p) => p.path)).toEqual(['spec.memoryMB']);
      await refused(store.updateFunction('nope', (s) => s), 'not-found');
    });

    it('a writer in between: retried on a fresh read (both changes kept), unless a revision was expected', async () => {
      // A real second writer, landing exactly between the store's read and its write.
      const racing = new RacingRest(kc);
      const raced = new KubernetesStore({ rest: racing, namespace: ns });
      let calls = 0;
      racing.beforeNextPut = () => edit('alpha', { reservedConcurrency: 4 });
      const result = await raced.updateFunction('alpha', (s) => {
        calls++;
        return { ...s, description: 'retried' };
      });
      expect(calls).toBe(2);
      expect(result.fn.spec).toMatchObject({ description: 'retried', reservedConcurrency: 4 });
      expect((await getFn('alpha')).spec).toMatchObject({ description: 'retried', reservedConcurrency: 4 });

      calls = 0;
      const rev = (await store.getFunction('alpha')).revision;
      racing.beforeNextPut = () => edit('alpha', { reservedConcurrency: 5 });
      await refused(
        raced.updateFunction(
          'alpha',
          (s) => {
            calls++;
            return { ...s, description: 'not written' };
          },
          { expectedRevision: rev },
        ),
        'precondition',
      );
      expect(calls).toBe(1);
      expect((await getFn('alpha')).spec).toMatchObject({ description: 'retried', reservedConcurrency: 5 });
      racing.close();
    });

    it('a Function the CRD takes but the schema refuses: get says invalid, list leaves it out, an update can fix it', async () => {
      await rest.request('POST', resourcePath(RESOURCES.Function, ns), {
        body: functionManifest('bad-cron', { ...spec(), schedules: [{ name: 'tick', cron: 'not a cron' }] } as Record<string, unknown>),
      });
      const err = await refused(store.getFunction('bad-cron'), 'invalid');
      expect(err.problems.map((p) => p.path)).toEqual(['spec.schedules[0].cron']);
      expect((await store.listFunctions()).map((f) => f.fn.metadata.name)).not.toContain('bad-cron');
      const fixed = await store.updateFunction('bad-cron', (s) => ({ ...s, schedules: [{ name: 'tick', cron: '*/5 * * * *' }] }));
      expect(fixed.fn.spec.schedules?.[0]?.cron).toBe('*/5 * * * *');
      expect((await store.listFunctions()).map((f) => f.fn.metadata.name)).toContain('bad-cron');
    });

    it('concurrent updates without a revision are both applied', async () => {
      await Promise.all([
        store.updateFunction('aardvark', (s) => ({ ...s, memoryMB: 256 })),
        store.updateFunction('aardvark', (s) => ({ ...s, timeoutSeconds: 7 })),
        store.updateFunction('aardvark', (s) => ({ ...s, description: 'three writers' })),
      ]);
      expect((await store.getFunction('aardvark')).fn.spec).toMatchObject({ memoryMB: 256, timeoutSeconds: 7, description: 'three writers' });
    });

    it('reads the observation from the status the controller writes; status writes are not modifications', async () => {
      const created = await store.createFunction({ name: 'observed', spec: spec() });
      const gen1 = (await getFn('observed')).metadata.generation;
      await setStatus('observed', { observedGeneration: gen1, conditions: [{ type: 'Ready', status: 'False', reason: 'InstancesStarting', message: '0/1', observedGeneration: gen1 }] });
      const starting = await store.getFunction('observed');
      expect(starting.observation).toEqual({ served: true, current: true });
      expect(starting.lastModified).toBe(created.lastModified);
      expect(starting.fn.status?.observedGeneration).toBe(gen1);

      await store.updateFunction('observed', (s) => ({ ...s, memoryMB: 256 }));
      expect((await store.getFunction('observed')).observation).toEqual({ served: true, current: false });

      const gen2 = (await getFn('observed')).metadata.generation;
      expect(gen2).toBeGreaterThan(gen1);
      await setStatus('observed', { observedGeneration: gen2, conditions: [{ type: 'Ready', status: 'False', reason: 'UnsupportedSpec', message: 'spec.code: runtime python3.12 needs code.image in a cluster', observedGeneration: gen2 }] });
      expect((await store.getFunction('observed')).observation).toEqual({
        served: true,
        current: true,
        failure: { code: 'InvalidConfiguration', message: 'spec.code: runtime python3.12 needs code.image in a cluster' },
      });

      // Observed, but old instances still run the previous code: not current (LastUpdateStatus InProgress) until Updated.
      await store.updateFunction('observed', (s) => ({ ...s, memoryMB: 512 }));
      const gen3 = (await getFn('observed')).metadata.generation;
      const ready = { type: 'Ready', status: 'True', reason: 'InstancesReady', message: '1/1 instances ready', observedGeneration: gen3 };
      await setStatus('observed', { observedGeneration: gen3, conditions: [ready, { type: 'Updated', status: 'False', reason: 'RollingOut', message: '1 of 2 instances run the current code', observedGeneration: gen3 }] });
      expect((await store.getFunction('observed')).observation).toEqual({ served: true, current: false });
      await setStatus('observed', { observedGeneration: gen3, conditions: [ready, { type: 'Updated', status: 'True', reason: 'RolledOut', message: 'all 1 instances run the current code', observedGeneration: gen3 }] });
      expect((await store.getFunction('observed')).observation).toEqual({ served: true, current: true });
    });

    it('deletes the Function and, through owner references, its versions; again is not-found', async () => {
      await store.createFunction({ name: 'doomed', spec: spec() });
      const { version } = await store.publishVersion('doomed');
      expect(await getOrUndefined(rest, RESOURCES.FunctionVersion, ns, version.metadata.name)).toBeDefined();
      await store.deleteFunction('doomed');
      await refused(store.getFunction('doomed'), 'not-found');
      expect((await store.listFunctions()).map((f) => f.fn.metadata.name)).not.toContain('doomed');
      // The garbage collector learns of a new CRD's objects on its next discovery (up to 30 s on a fresh control plane).
      await eventually('the version garbage-collected', async () => ((await getOrUndefined(rest, RESOURCES.FunctionVersion, ns, version.metadata.name)) === undefined ? true : undefined), 100_000);
      await refused(store.deleteFunction('doomed'), 'not-found');
    });
  });
}
