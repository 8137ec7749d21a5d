import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { Controller } from '../../src/controller/controller.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { CONTENT_MERGE, KubeRest } from '../../src/kube/rest.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { ANNOTATION_CODE_HASH, FINALIZER } from '../../src/controller/resources/names.js';
import { FUNCTIONS_POLICY, type NetworkPolicy } from '../../src/controller/resources/networkpolicy.js';
import { createControllerMetrics } from '../../src/metrics/controller.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { clusterObservation } from '../../src/store/observation.js';
import {
  createNamespace, deleteNamespace, eventually, functionManifest, getOrUndefined, installCrds, pythonSpec, readyCondition, type FunctionObj,
} from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();

if (!ctx.available) {
  describe.skip(`controller (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('controller against a real control plane', () => {
    const ns = `ctl-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    const registry = createRegistry({ defaultMetrics: false });
    const metrics = createControllerMetrics(registry);
    let controller: Controller;
    const fnPath = (name?: string) => resourcePath(RESOURCES.Function, ns, name);
    const getFn = (name: string) => getOrUndefined<FunctionObj>(rest, RESOURCES.Function, ns, name);
    const getDeployment = (name: string) => getOrUndefined<V1Deployment>(rest, RESOURCES.Deployment, ns, name);

    beforeAll(async () => {
      await installCrds(kc);
      await createNamespace(rest, ns);
      controller = new Controller({
        kubeConfig: kc, namespace: ns, images: defaultImages('test'), gatewayService: 'hearth-gateway', gatewayNamespace: 'hearth-system', metrics, workers: 4,
      });
      await controller.start();
    });

    afterAll(async () => {
      await controller?.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('creates owned objects, runs pods and reports Ready with its instances', async () => {
      await rest.request('POST', fnPath(), { body: functionManifest('hello', pythonSpec()) });
      const fn = await eventually('hello Ready=True', async () => {
        const f = await getFn('hello');
        return readyCondition(f)?.status === 'True' ? f : undefined;
      });
      expect(fn.status).toMatchObject({
        readyInstances: 1, desiredInstances: 1, replicas: 1, selector: 'hearth.dev/function=hello',
        url: 'http://hearth-gateway.hearth-system.svc/2015-03-31/functions/hello/invocations', observedGeneration: fn.metadata?.generation,
      });
      expect(readyCondition(fn)?.reason).toBe('InstancesReady');
      expect(fn.metadata?.finalizers).toContain(FINALIZER);
      const uid = fn.metadata?.uid;
      for (const [r, name] of [[RESOURCES.Deployment, 'hello'], [RESOURCES.Service, 'hello'], [RESOURCES.ConfigMap, 'hello-code'], [RESOURCES.ServiceAccount, 'hello']] as const) {
        const obj = await getOrUndefined<{ metadata?: { ownerReferences?: { uid?: string; controller?: boolean }[] } }>(rest, r, ns, name);
        expect(obj, `${r.kind} ${name}`).toBeDefined();
        expect(obj?.metadata?.ownerReferences).toContainEqual(expect.objectContaining({ uid, controller: true }));
      }
      // One NetworkPolicy for the namespace selects the function's pods: only gateway pods reach them.
      const policy = await getOrUndefined<NetworkPolicy>(rest, RESOURCES.NetworkPolicy, ns, FUNCTIONS_POLICY);
      expect(policy?.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/managed-by': 'hearth' });
      expect(policy?.spec.ingress).toEqual([expect.objectContaining({ ports: [{ protocol: 'TCP', port: 9000 }] })]);
      expect(await getOrUndefined(rest, RESOURCES.NetworkPolicy, ns, 'hello')).toBeUndefined();
      const pods = await rest.request<{ items: V1Pod[] }>('GET', resourcePath(RESOURCES.Pod, ns), { query: { labelSelector: 'hearth.dev/function=hello' } });
      expect(pods.items.map((p) => p.status?.phase)).toEqual(['Running']);
      const podLabels = pods.items[0]?.metadata?.labels ?? {};
      expect(Object.entries(policy?.spec.podSelector.matchLabels ?? {}).every(([k, v]) => podLabels[k] === v)).toBe(true);
      const d = await getDeployment('hello');
      const spec = d?.spec?.template.spec;
      expect(spec?.containers.map((c) => c.name)).toEqual(['agent', 'runtime']);
      expect(spec?.containers[1]?.resources?.limits).toEqual({ memory: '128Mi' });
      expect(spec?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    });

    it("puts the namespace's NetworkPolicy back when it is deleted", async () => {
      await rest.request('DELETE', `${resourcePath(RESOURCES.NetworkPolicy, ns)}/${FUNCTIONS_POLICY}`);
      const back = await eventually('the NetworkPolicy back', () => getOrUndefined<NetworkPolicy>(rest, RESOURCES.NetworkPolicy, ns, FUNCTIONS_POLICY));
      expect(back.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/managed-by': 'hearth' });
    });

    it('rolls the Deployment when the code changes', async () => {
      const before = await getDeployment('hello');
      const hashBefore = before?.spec?.template.metadata?.annotations?.[ANNOTATION_CODE_HASH];
      await rest.request('PATCH', fnPath('hello'), { body: { spec: { code: { inline: { 'app.py': 'def handler(e, c):\n    return 2\n' } } } }, contentType: CONTENT_MERGE });
      const after = await eventually('a new pod template', async () => {
        const d = await getDeployment('hello');
        const h = d?.spec?.template.metadata?.annotations?.[ANNOTATION_CODE_HASH];
        return h !== undefined && h !== hashBefore ? d : undefined;
      });
      expect(after.metadata?.generation).toBeGreaterThan(before?.metadata?.generation ?? 0);
      const cm = await getOrUndefined<{ data?: Record<string, string> }>(rest, RESOURCES.ConfigMap, ns, 'hello-code');
      expect(cm?.data?.['app.py']).toContain('return 2');
      // Updated (LastUpdateStatus Successful) at the new generation only once no pod of the previous template is left.
      const updated = await eventually('Updated at the new generation', async () => {
        const f = await getFn('hello');
        const c = f?.status?.conditions?.find((x) => x.type === 'Updated');
        return c?.status === 'True' && c.observedGeneration === f?.metadata?.generation && f?.status?.observedGeneration === f?.metadata?.generation ? f : undefined;
      });
      const rolled = await getDeployment('hello');
      expect(rolled?.metadata?.generation).toBe(after.metadata?.generation);
      expect(rolled?.status?.observedGeneration).toBe(rolled?.metadata?.generation);
      expect(rolled?.status?.updatedReplicas).toBe(rolled?.status?.replicas);
      expect(clusterObservation(updated)).toEqual({ served: true, current: true });
      // The rollout completes: one ReplicaSet per template, the new one ready, and the Function Ready at its new generation.
      await eventually('rollout complete', async () => {
        const d = await getDeployment('hello');
        return d?.status?.updatedReplicas === 1 && d.status.readyReplicas === 1 && d.status.observedGeneration === d.metadata?.generation ? d : undefined;
      });
      const rs = await rest.request<{ items: unknown[] }>('GET', resourcePath({ apiVersion: 'apps/v1', kind: 'ReplicaSet', plural: 'replicasets' }, ns), { query: { labelSelector: 'hearth.dev/function=hello' } });
      expect(rs.items.length).toBe(2);
      await eventually('Ready at the new generation', async () => {
        const f = await getFn('hello');
        return readyCondition(f)?.status === 'True' && f?.status?.observedGeneration === f?.metadata?.generation ? f : undefined;
      });
    });

    it('restores a Deployment edited by hand', async () => {
      await rest.request('PATCH', resourcePath(RESOURCES.Deployment, ns, 'hello'), {
        body: { spec: { replicas: 3, template: { spec: { containers: [{ name: 'runtime', image: 'example.invalid/tampered:1' }] } } } },
        contentType: 'application/strategic-merge-patch+json',
      });
      await eventually('the Deployment restored', async () => {
        const d = await getDeployment('hello');
        return d?.spec?.replicas === 1 && d.spec.template.spec?.containers.find((c) => c.name === 'runtime')?.image === defaultImages('test').python ? d : undefined;
      });
    });

    it('reports an invalid spec as Ready=False InvalidSpec without creating anything or retrying', async () => {
      // The CRD cannot parse cron expressions; the schema can.
      await rest.request('POST', fnPath(), { body: functionManifest('bad-cron', { ...pythonSpec(), schedules: [{ name: 'tick', cron: 'every tuesday' }] }) });
      const fn = await eventually('bad-cron Ready=False', async () => {
        const f = await getFn('bad-cron');
        return readyCondition(f)?.status === 'False' ? f : undefined;
      });
      expect(readyCondition(fn)).toMatchObject({ reason: 'InvalidSpec', message: expect.stringContaining('spec.schedules[0].cron') });
      const invalidBefore = (await metrics.reconciles.get()).values.find((v) => v.labels.result === 'invalid')?.value ?? 0;
      await sleep(3000);
      const invalidAfter = (await metrics.reconciles.get()).values.find((v) => v.labels.result === 'invalid')?.value ?? 0;
      expect(invalidAfter - invalidBefore).toBeLessThanOrEqual(1);
      expect(await getDeployment('bad-cron')).toBeUndefined();
      const events = await rest.request<{ items: { reason?: string; type?: string; involvedObject?: { name?: string } }[] }>('GET', resourcePath(RESOURCES.Event, ns));
      expect(events.items).toContainEqual(expect.objectContaining({ reason: 'InvalidSpec', type: 'Warning', involvedObject: expect.objectContaining({ name: 'bad-cron' }) }));
      expect(events.items).toContainEqual(expect.objectContaining({ reason: 'InstancesReady', type: 'Normal', involvedObject: expect.objectContaining({ name: 'hello' }) }));
    });

    it('garbage-collects everything a deleted Function owned', async () => {
      await rest.request('DELETE', fnPath('hello'));
      await eventually('hello and its objects gone', async () => {
        const left = await Promise.all([
          getFn('hello'),
          getDeployment('hello'),
          getOrUndefined(rest, RESOURCES.Service, ns, 'hello'),
          getOrUndefined(rest, RESOURCES.ConfigMap, ns, 'hello-code'),
          getOrUndefined(rest, RESOURCES.ServiceAccount, ns, 'hello'),
        ]);
        return left.every((x) => x === undefined) ? true : undefined;
      });
    });
  });
}
