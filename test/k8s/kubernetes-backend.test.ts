import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvokeResult } from '../../src/agent/invocation.js';
import { FunctionSchema } from '../../src/api/function.js';
import { KubernetesBackend } from '../../src/backends/kubernetes/backend.js';
import type { KubernetesInstance } from '../../src/backends/kubernetes/instance.js';
import { DELETION_COST_ANNOTATION } from '../../src/kube/objects.js';
import { Controller } from '../../src/controller/controller.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { KubeRest } from '../../src/kube/rest.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { createNamespace, deleteNamespace, eventually, functionManifest, getOrUndefined, installCrds, pythonSpec, readyCondition, type FunctionObj } from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';
import { CONTENT_MERGE } from '../../src/kube/rest.js';
import { versionLabels, versionSelector } from '../../src/versions/labels.js';

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

  describe('scale-down victims chosen by the gateway, against a real ReplicaSet', () => {
    const ns = `kbv-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    let controller: Controller;
    let backend: KubernetesBackend;
    // Calls "in flight" on each pod: the agents are kwok's (nothing answers), so the client holds each call until released.
    const held: (() => void)[] = [];
    const answer: InvokeResult = { outcome: 'success', payload: Buffer.from('{}'), durationMs: 1 };

    beforeAll(async () => {
      await installCrds(kc);
      await createNamespace(rest, ns);
      controller = new Controller({ kubeConfig: kc, namespace: ns, images: defaultImages('test'), gatewayService: 'hearth-gateway', gatewayNamespace: ns });
      await controller.start();
      backend = new KubernetesBackend({
        kubeConfig: kc,
        namespace: ns,
        makeClient: () => ({ invoke: () => new Promise((resolve) => held.push(() => resolve(answer))), close: async () => undefined }),
      });
      await backend.start();
    });

    afterAll(async () => {
      for (const r of held.splice(0)) r();
      await backend?.close();
      await controller?.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    const pods = (name: string) => backend.instances(name) as readonly KubernetesInstance[];
    const deletionCost = async (pod: string) =>
      (await rest.request<{ metadata?: { annotations?: Record<string, string> } }>('GET', resourcePath(RESOURCES.Pod, ns, pod))).metadata?.annotations?.[DELETION_COST_ANNOTATION];

    async function deploy(name: string, instances: number): Promise<void> {
      const spec = { ...pythonSpec(), scaling: { minInstances: 0, maxInstances: 10 }, concurrency: 2 };
      await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest(name, spec) });
      await backend.upsert(FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name }, spec }));
      await backend.scale(name, instances);
      await eventually(`${instances} ready instances of ${name}`, async () => (pods(name).filter((i) => i.state === 'ready').length === instances ? true : undefined));
    }

    it('removes the idlest pods: held back at once, given a low deletion cost, and deleted by the ReplicaSet', async () => {
      await deploy('victimy', 3);
      const [busy, lessBusy, idle] = [...pods('victimy')].sort((a, b) => a.id.localeCompare(b.id)) as [KubernetesInstance, KubernetesInstance, KubernetesInstance];
      const req = { requestId: 'r', payload: Buffer.from('{}'), timeoutMs: 3000, invokedFunctionArn: 'arn' };
      const calls = [busy.invoke(req), busy.invoke(req), lessBusy.invoke(req)];

      const scaled = backend.scale('victimy', 1);
      // Before any request went out: this gateway no longer chooses the two victims.
      expect(idle.state).toBe('draining');
      expect(lessBusy.state).toBe('draining');
      expect(busy.state).toBe('ready');
      await scaled;
      expect(await deletionCost(idle.id)).toBe('-1000');
      expect(await deletionCost(lessBusy.id)).toBe('-1000');
      expect(await deletionCost(busy.id)).toBeUndefined();

      // The ReplicaSet deletes exactly the two victims; the busy pod stays.
      await eventually('only the busy pod left', async () => {
        const left = pods('victimy');
        return left.length === 1 && left[0]?.id === busy.id ? true : undefined;
      });
      expect(busy.state).toBe('ready');
      for (const r of held.splice(0)) r();
      await Promise.all(calls);
    });

    it('keeps a victim whose pod is not leaving yet when a scale-up follows, and writes only the latest count', async () => {
      await deploy('bouncy', 2);
      const ids = pods('bouncy').map((i) => i.id).sort();
      const down = backend.scale('bouncy', 1);
      expect(pods('bouncy').filter((i) => i.state === 'draining')).toHaveLength(1);
      const up = backend.scale('bouncy', 2);
      // The victim serves again at once, and loses its low deletion cost.
      expect(pods('bouncy').every((i) => i.state === 'ready')).toBe(true);
      await Promise.all([down, up]);
      for (const id of ids) expect(await deletionCost(id)).toBeUndefined();
      const scale = await rest.request<{ spec?: { replicas?: number } }>('GET', resourcePath(RESOURCES.Function, ns, 'bouncy', 'scale'));
      expect(scale.spec?.replicas).toBe(2);
      // Nothing was deleted: the count 1 was never written.
      await new Promise((r) => setTimeout(r, 2000));
      expect(pods('bouncy').map((i) => i.id).sort()).toEqual(ids);
      expect(pods('bouncy').every((i) => i.endpointState === 'ready')).toBe(true);
    });
  });

  describe("a version's pods, found through its Service's EndpointSlices", () => {
    const ns = `kbu-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    let backend: KubernetesBackend;

    beforeAll(async () => {
      await createNamespace(rest, ns);
      backend = new KubernetesBackend({ kubeConfig: kc, namespace: ns });
      await backend.start();
    });

    afterAll(async () => {
      await backend?.close();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    // The objects the controller makes for a unit, made here by hand: a Service labelled like the unit's pods and selecting them, and a Deployment of kwok pods.
    async function unitObjects(name: string, labels: Record<string, string>, selector: Record<string, string>, replicas: number): Promise<void> {
      await rest.request('POST', resourcePath(RESOURCES.Service, ns), {
        body: { apiVersion: 'v1', kind: 'Service', metadata: { name, labels }, spec: { selector, ports: [{ name: 'http', port: 9000, targetPort: 9000 }] } },
      });
      await rest.request('POST', resourcePath(RESOURCES.Deployment, ns), {
        body: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name, labels },
          spec: { replicas, selector: { matchLabels: selector }, template: { metadata: { labels }, spec: { containers: [{ name: 'agent', image: 'hearth-agent:test', ports: [{ containerPort: 9000 }] }] } } },
        },
      });
    }

    it('maps a version Service\'s slices to NAME:N and $LATEST\'s to NAME, and follows a relabelled Service', async () => {
      await unitObjects('twin', { 'app.kubernetes.io/name': 'twin', 'hearth.dev/function': 'twin' }, { 'hearth.dev/function': 'twin' }, 1);
      await unitObjects('twin-v1', versionLabels('twin', '1'), versionSelector('twin', '1'), 2);
      const ready = (key: string) => backend.instances(key).filter((i) => i.state === 'ready').length;
      await eventually('twin:1 with 2 ready pods and twin with 1', async () => (ready('twin:1') === 2 && ready('twin') === 1 ? true : undefined));
      expect(backend.instances('twin:1').every((i) => i.functionName === 'twin:1')).toBe(true);
      expect(backend.instances('twin-v1')).toEqual([]);

      // Without the version labels on its Service, the EndpointSlice controller relabels the slices: the pods leave twin:1.
      await rest.request('PATCH', resourcePath(RESOURCES.Service, ns, 'twin-v1'), { body: { metadata: { labels: { 'hearth.dev/version-of': null, 'hearth.dev/version': null } } }, contentType: CONTENT_MERGE });
      await eventually('twin:1 empty, its pods under the Service name', async () => (backend.instances('twin:1').length === 0 && ready('twin-v1') === 2 ? true : undefined));
      expect(ready('twin')).toBe(1);
    });
  });
}
