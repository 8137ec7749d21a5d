import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FunctionSchema } from '../../src/api/function.js';
import { KubernetesBackend } from '../../src/backends/kubernetes/backend.js';
import { Controller } from '../../src/controller/controller.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { KubeRest } from '../../src/kube/rest.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { createNamespace, deleteNamespace, eventually, functionManifest, getOrUndefined, installCrds, pythonSpec, readyCondition, type FunctionObj } from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();

if (!ctx.available) {
  describe.skip(`Kubernetes backend (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('the gateway\'s Kubernetes backend against a real control plane', () => {
    const ns = `kbe-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    let controller: Controller;
    let backend: KubernetesBackend;
    const changes: string[] = [];

    beforeAll(async () => {
      await installCrds(kc);
      await createNamespace(rest, ns);
      controller = new Controller({ kubeConfig: kc, namespace: ns, images: defaultImages('test'), gatewayService: 'hearth-gateway', gatewayNamespace: ns });
      await controller.start();
      backend = new KubernetesBackend({ kubeConfig: kc, namespace: ns });
      backend.onChange((name) => changes.push(name));
      await backend.start();
    });

    afterAll(async () => {
      await backend?.close();
      await controller?.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    const readyIds = () => backend.instances('scaly').filter((i) => i.state === 'ready').map((i) => i.id);

    it('scales a Function up through the scale subresource and sees the EndpointSlice endpoints follow', async () => {
      const spec = { ...pythonSpec(), scaling: { minInstances: 0, maxInstances: 10 }, concurrency: 4 };
      await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest('scaly', spec) });
      const fn = await eventually('ScaledToZero', async () => {
        const f = await getOrUndefined<FunctionObj>(rest, RESOURCES.Function, ns, 'scaly');
        return readyCondition(f)?.reason === 'ScaledToZero' ? f : undefined;
      });
      expect(fn.status?.desiredInstances).toBe(0);
      expect(backend.instances('scaly')).toEqual([]);
      await backend.upsert(FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'scaly' }, spec }));

      await backend.scale('scaly', 3);
      const scale = await rest.request<{ spec?: { replicas?: number }; status?: { replicas?: number; selector?: string } }>('GET', resourcePath(RESOURCES.Function, ns, 'scaly', 'scale'));
      expect(scale.spec?.replicas).toBe(3);
      await eventually('3 ready instances', async () => (readyIds().length === 3 ? true : undefined));
      const instances = backend.instances('scaly');
      expect(instances.every((i) => i.concurrency === 4 && i.functionName === 'scaly' && i.readyAt !== undefined)).toBe(true);
      expect(changes).toContain('scaly');
      // The scale subresource reports what exists, with the selector an HPA or autoscaler can use.
      await eventually('status.replicas 3', async () => {
        const s = await rest.request<{ status?: { replicas?: number; selector?: string } }>('GET', resourcePath(RESOURCES.Function, ns, 'scaly', 'scale'));
        return s.status?.replicas === 3 && s.status.selector === 'hearth.dev/function=scaly' ? s : undefined;
      });
    });

    it('scales down to one and to zero, and the endpoints follow', async () => {
      await backend.scale('scaly', 1);
      await eventually('1 instance', async () => (backend.instances('scaly').length === 1 && readyIds().length === 1 ? true : undefined));
      await backend.scale('scaly', 0);
      await eventually('no instances', async () => (backend.instances('scaly').length === 0 ? true : undefined));
      await eventually('ScaledToZero again', async () => {
        const f = await getOrUndefined<FunctionObj>(rest, RESOURCES.Function, ns, 'scaly');
        return readyCondition(f)?.reason === 'ScaledToZero' && f?.status?.replicas === 0 ? true : undefined;
      });
    });
  });
}
