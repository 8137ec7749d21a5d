// The cluster's home of EventSourceMappings, against a real API server:
// KubernetesStore's mapping methods write the custom resource kubectl
// applies (created, listed, edited at the resourceVersion read, deleted), so
// the API and kubectl are one truth; the API server's CEL rules and the
// schema refuse what they refuse, and nothing is written then.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventSourceMappingSpecInput } from '../../src/api/event-source-mapping.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { CONTENT_MERGE, KubeRest } from '../../src/kube/rest.js';
import { mappingUuid } from '../../src/sources/mapping-runner.js';
import { KubernetesStore } from '../../src/store/kubernetes-store.js';
import { createNamespace, deleteNamespace, eventually, getOrUndefined } from './controller-helpers.js';
import { applyDir, waitEstablished } from './crds.js';
import { k8sContext, kubeConfigFor } from './kube.js';
import { refused } from '../helpers/store-refusals.js';

const ctx = k8sContext();
const crdsDir = fileURLToPath(new URL('../../crds/', import.meta.url));

const kafka = (topic = 'orders'): EventSourceMappingSpecInput => ({ functionName: 'worker', kafka: { bootstrapServers: ['127.0.0.1:9092'], topics: [topic] }, batchSize: 10 });

if (!ctx.available) {
  describe.skip(`mappings in the cluster (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('KubernetesStore EventSourceMappings against a real API server', () => {
    const ns = `esm-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    const store = new KubernetesStore({ rest, namespace: ns });
    const get = (name: string) => rest.request<{ metadata: { resourceVersion: string }; spec: Record<string, unknown> }>('GET', resourcePath(RESOURCES.EventSourceMapping, ns, name));

    beforeAll(async () => {
      await applyDir(ctx.kubectl, ctx.kubeconfigPath, crdsDir);
      await waitEstablished(kc, ['eventsourcemappings.hearth.dev']);
      await createNamespace(rest, ns);
      await eventually('eventsourcemappings served', async () => ((await rest.request('GET', resourcePath(RESOURCES.EventSourceMapping, ns)).catch(() => undefined)) !== undefined ? true : undefined), 30_000);
    });

    afterAll(async () => {
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('creates the object kubectl would (same UUID as the runner derives), refuses the same name again and an invalid spec', async () => {
      const created = await store.createMapping('worker-orders', kafka());
      const obj = await get('worker-orders');
      expect(obj.spec).toMatchObject({ functionName: 'worker', batchSize: 10, kafka: { topics: ['orders'] } });
      expect(created.revision).toBe(obj.metadata.resourceVersion);
      expect(created.mapping.metadata).toMatchObject({ name: 'worker-orders', namespace: ns });
      expect(mappingUuid(created.mapping)).toBe(mappingUuid({ metadata: { name: 'worker-orders', namespace: ns } }));
      await refused(store.createMapping('worker-orders', kafka()), 'conflict');
      const bad = await refused(store.createMapping('bad', { ...kafka(), maximumRecordAgeInSeconds: 30 }), 'invalid');
      expect(bad.problems.map((p) => p.path)).toEqual(['spec.maximumRecordAgeInSeconds']);
      expect(await getOrUndefined(rest, RESOURCES.EventSourceMapping, ns, 'bad')).toBeUndefined();
    });

    it('lists what kubectl made too, and edits what is stored now, keeping what another writer wrote', async () => {
      await rest.request('POST', resourcePath(RESOURCES.EventSourceMapping, ns), {
        body: { apiVersion: 'hearth.dev/v1alpha1', kind: 'EventSourceMapping', metadata: { name: 'by-kubectl', namespace: ns }, spec: { functionName: 'worker', redisStreams: { streams: ['s'] } } },
      });
      expect((await store.listMappings()).map((m) => m.mapping.metadata.name)).toEqual(['by-kubectl', 'worker-orders']);
      const updated = await store.updateMapping('worker-orders', (spec) => ({ ...spec, enabled: false }));
      expect(updated.mapping.spec).toMatchObject({ enabled: false, batchSize: 10 });
      expect(updated.revision).toBe((await get('worker-orders')).metadata.resourceVersion);
      // What kubectl wrote since is what the next edit starts from.
      await rest.request('PATCH', resourcePath(RESOURCES.EventSourceMapping, ns, 'worker-orders'), { body: { spec: { batchSize: 7 } }, contentType: CONTENT_MERGE });
      const again = await store.updateMapping('worker-orders', (spec) => ({ ...spec, maximumRetryAttempts: 3 }));
      expect(again.mapping.spec).toMatchObject({ enabled: false, batchSize: 7, maximumRetryAttempts: 3 });
      await refused(store.updateMapping('worker-orders', (spec) => ({ ...spec, batchSize: 0 })), 'invalid');
      expect((await get('worker-orders')).spec).toMatchObject({ batchSize: 7 });
      await refused(store.updateMapping('nope', (spec) => spec), 'not-found');
    });

    it('deletes; an absent mapping is not-found', async () => {
      await store.deleteMapping('worker-orders');
      await eventually('deleted', async () => ((await getOrUndefined(rest, RESOURCES.EventSourceMapping, ns, 'worker-orders')) === undefined ? true : undefined), 30_000);
      await refused(store.deleteMapping('worker-orders'), 'not-found');
      expect((await store.listMappings()).map((m) => m.mapping.metadata.name)).toEqual(['by-kubectl']);
    });
  });
}
