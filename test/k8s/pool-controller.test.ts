// The controller's side of warm pools against a real API server (pods are
// kwok's: scheduled, Running and Ready, nothing runs): a WarmPool's
// Deployment, ServiceAccount, NetworkPolicy and status; a pool pod claimed
// with the gateway's own patch leaves its pool (which refills), is adopted
// by the Function and covers its instance, so the Function's Deployment
// gives its pod up; a claimed pod of an older spec is replaced, a surplus
// one deleted, and the Function's deletion takes its claimed pods along.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import { FunctionSchema } from '../../src/api/function.js';
import type { WarmPoolStatus } from '../../src/api/warm-pool.js';
import { Controller } from '../../src/controller/controller.js';
import { CLAIM_SETTLE_MS } from '../../src/controller/resources/claimed.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import type { NetworkPolicy } from '../../src/controller/resources/networkpolicy.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { CONTENT_MERGE, KubeRest, isStatus } from '../../src/kube/rest.js';
import { createControllerPoolMetrics } from '../../src/metrics/pools.js';
import { createRegistry } from '../../src/metrics/registry.js';
import { ANNOTATION_CLAIMED_AT, ANNOTATION_SPEC_HASH, LABEL_CLAIMED, LABEL_CLAIMED_FROM, LABEL_POOL, claimPatch } from '../../src/pools/labels.js';
import { instanceSpecHash } from '../../src/pools/specialization.js';
import { controllerReplicas, createNamespace, deleteNamespace, eventually, functionManifest, getOrUndefined, installCrds, pythonSpec, type FunctionObj } from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();

if (!ctx.available) {
  describe.skip(`warm-pool controller (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('warm-pool controller against a real control plane', () => {
    const ns = `pool-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    const registry = createRegistry({ defaultMetrics: false });
    const poolMetrics = createControllerPoolMetrics(registry);
    let controller: Controller;
    const list = async (selector: string) => (await rest.request<{ items: V1Pod[] }>('GET', resourcePath(RESOURCES.Pod, ns), { query: { labelSelector: selector } })).items;
    const pod = (name: string) => getOrUndefined<V1Pod>(rest, RESOURCES.Pod, ns, name);
    const getDeployment = (name: string) => getOrUndefined<V1Deployment>(rest, RESOURCES.Deployment, ns, name);
    const getPool = (name: string) => getOrUndefined<{ metadata?: { uid?: string; generation?: number }; status?: WarmPoolStatus }>(rest, RESOURCES.WarmPool, ns, name);
    const isReady = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
    const live = (p: V1Pod) => p.metadata?.deletionTimestamp === undefined;
    const hashOf = (spec: Record<string, unknown>) => instanceSpecHash(FunctionSchema.parse({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'x' }, spec }).spec);
    /** Gone, or on its way out. */
    const deleted = async (name: string) => {
      const p = await pod(name);
      return p === undefined || p.metadata?.deletionTimestamp !== undefined ? true : undefined;
    };

    beforeAll(async () => {
      await installCrds(kc);
      await createNamespace(rest, ns);
      controller = new Controller({
        kubeConfig: kc, namespace: ns, images: defaultImages('test'), gatewayService: 'hearth-gateway', gatewayNamespace: 'hearth-system', poolMetrics, workers: 4,
      });
      await controller.start();
    });

    afterAll(async () => {
      await controller?.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('makes a WarmPool\'s ServiceAccount, NetworkPolicy and Deployment, and reports its ready idle pods', async () => {
      await rest.request('POST', resourcePath(RESOURCES.WarmPool, ns), {
        body: { apiVersion: RESOURCES.WarmPool.apiVersion, kind: 'WarmPool', metadata: { name: 'python' }, spec: { runtime: 'python', minSize: 2, maxSize: 4 } },
      });
      const wp = await eventually('the pool Ready with 2 idle pods', async () => {
        const p = await getPool('python');
        return p?.status?.readyPods === 2 && p.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? p : undefined;
      });
      expect(wp.status).toMatchObject({ desiredSize: 2, readyPods: 2, claims: 0, claimsPerMinute: 0, observedGeneration: wp.metadata?.generation });
      const owner = expect.objectContaining({ kind: 'WarmPool', name: 'python', uid: wp.metadata?.uid, controller: true });
      const d = await getDeployment('pool-python');
      expect(d?.metadata?.ownerReferences).toContainEqual(owner);
      expect(d?.spec?.replicas).toBe(2);
      expect(d?.spec?.template.spec?.containers[0]?.args).toContain('--pool');
      const sa = await getOrUndefined<V1ServiceAccount>(rest, RESOURCES.ServiceAccount, ns, 'pool-python');
      expect(sa?.automountServiceAccountToken).toBe(false);
      expect(sa?.metadata?.ownerReferences).toContainEqual(owner);
      const np = await getOrUndefined<NetworkPolicy>(rest, RESOURCES.NetworkPolicy, ns, 'pool-python');
      expect(np?.spec.podSelector).toEqual({ matchLabels: { [LABEL_POOL]: 'python' } });
      expect(np?.metadata.ownerReferences).toContainEqual(owner);
      const idle = (await list(`${LABEL_POOL}=python`)).filter(live);
      expect(idle.map((p) => p.spec?.serviceAccountName)).toEqual(['pool-python', 'pool-python']);
      expect(await registry.getSingleMetricAsString('hearth_pool_desired_size')).toContain('hearth_pool_desired_size{pool="python",runtime="python"} 2');
      expect(await registry.getSingleMetricAsString('hearth_pool_pods')).toContain('hearth_pool_pods{pool="python",runtime="python",state="ready"} 2');
    });

    it('hands a claimed pool pod to its Function: adopted, counted, and the Function\'s Deployment gives its pod up; the pool refills', async () => {
      const spec = pythonSpec();
      await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest('hello', spec) });
      await eventually('hello\'s Deployment pod ready', async () => ((await getDeployment('hello'))?.status?.readyReplicas === 1 ? true : undefined));
      const fnUid = (await getOrUndefined<FunctionObj>(rest, RESOURCES.Function, ns, 'hello'))?.metadata?.uid;

      // The gateway's claim: one merge patch, conditional on the resourceVersion it saw.
      const victim = (await list(`${LABEL_POOL}=python`)).filter((p) => live(p) && isReady(p))[0];
      const name = victim?.metadata?.name ?? '';
      const claimedAt = Date.now();
      await rest.request('PATCH', resourcePath(RESOURCES.Pod, ns, name), {
        body: claimPatch({ resourceVersion: victim?.metadata?.resourceVersion ?? '', pool: 'python', unit: 'hello', specHash: hashOf(spec), claimedBy: 'test', now: claimedAt }),
        contentType: CONTENT_MERGE,
      });

      // The pool's ReplicaSet lets it go, and the Function takes it as its own.
      const adopted = await eventually('the claimed pod adopted by hello', async () => {
        const p = await pod(name);
        const refs = p?.metadata?.ownerReferences ?? [];
        return refs.length === 1 && refs[0]?.uid === fnUid && refs[0]?.controller === true ? p : undefined;
      });
      expect(adopted.metadata?.labels).toMatchObject({ [LABEL_CLAIMED]: 'true', [LABEL_CLAIMED_FROM]: 'python', 'hearth.dev/function': 'hello' });
      await eventually('the pool refilled', async () => ((await list(`${LABEL_POOL}=python`)).filter((p) => live(p) && isReady(p)).length === 2 ? true : undefined));
      const wp = await eventually('the claim counted', async () => {
        const p = await getPool('python');
        return p?.status?.claims === 1 ? p : undefined;
      });
      expect(wp.status).toMatchObject({ claimsPerMinute: 1, lastClaimTime: new Date(claimedAt).toISOString() });
      expect(await registry.getSingleMetricAsString('hearth_pool_claimed_pods_total')).toContain('hearth_pool_claimed_pods_total{pool="python",runtime="python"} 1');

      // Once the claim has settled it covers hello's one instance: its Deployment runs none.
      await eventually('hello\'s Deployment at 0', async () => ((await getDeployment('hello'))?.spec?.replicas === 0 ? true : undefined), CLAIM_SETTLE_MS + 30_000);
      const fn = await eventually('hello counts the claimed pod', async () => {
        const f = await getOrUndefined<FunctionObj>(rest, RESOURCES.Function, ns, 'hello');
        // A count of 0 is left out of a Deployment's status.
        return f?.status?.readyInstances === 1 && f.status.replicas === 1 && ((await getDeployment('hello'))?.status?.replicas ?? 0) === 0 ? f : undefined;
      });
      expect(fn.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });
      expect(await pod(name)).toMatchObject({ metadata: { name } });
    });

    it('deletes a surplus claimed pod, the one the gateway gave the lowest deletion cost', async () => {
      // A second claimed pod for hello (made directly: the scheduler and kwok take it), claimed long enough ago to have settled.
      const at = new Date(Date.now() - 2 * CLAIM_SETTLE_MS).toISOString();
      await rest.request('POST', resourcePath(RESOURCES.Pod, ns), {
        body: {
          apiVersion: 'v1', kind: 'Pod',
          metadata: {
            name: 'extra',
            labels: { 'app.kubernetes.io/managed-by': 'hearth', 'hearth.dev/pool-runtime': 'python', [LABEL_CLAIMED]: 'true', [LABEL_CLAIMED_FROM]: 'python', 'hearth.dev/function': 'hello', 'app.kubernetes.io/name': 'hello' },
            annotations: { [ANNOTATION_SPEC_HASH]: hashOf(pythonSpec()), [ANNOTATION_CLAIMED_AT]: at, 'controller.kubernetes.io/pod-deletion-cost': '-1000' },
          },
          spec: { containers: [{ name: 'runtime', image: 'example.invalid/none:1' }] },
        },
      });
      await eventually('the lower-cost claimed pod deleted', () => deleted('extra'));
      const remaining = (await list(`${LABEL_CLAIMED}=true,hearth.dev/function=hello`)).filter(live);
      expect(remaining).toHaveLength(1);
    });

    it('replaces a claimed pod of an older spec once the Deployment\'s new pod is available', async () => {
      const [claimedPod] = (await list(`${LABEL_CLAIMED}=true,hearth.dev/function=hello`)).filter(live);
      const name = claimedPod?.metadata?.name ?? '';
      await rest.request('PATCH', resourcePath(RESOURCES.Function, ns, 'hello'), { body: { spec: { code: { inline: { 'app.py': 'def handler(e, c):\n    return 2\n' } } } }, contentType: CONTENT_MERGE });
      // The claimed pod no longer covers the instance: the Deployment runs it again, then the stale pod goes.
      await eventually('hello\'s Deployment back at 1', async () => ((await getDeployment('hello'))?.spec?.replicas === 1 ? true : undefined));
      await eventually('the stale claimed pod deleted', () => deleted(name));
      await eventually('Updated once no instance runs the previous code', async () => {
        const f = await getOrUndefined<FunctionObj>(rest, RESOURCES.Function, ns, 'hello');
        const u = f?.status?.conditions?.find((c) => c.type === 'Updated');
        return u?.status === 'True' && u.observedGeneration === f?.metadata?.generation ? true : undefined;
      });
    });

    it('takes a Function\'s claimed pods along when it is deleted', async () => {
      const spec = pythonSpec('return 3');
      await rest.request('POST', resourcePath(RESOURCES.Function, ns), { body: functionManifest('bye', { ...spec, scaling: { minInstances: 0, maxInstances: 2 } }) });
      const victim = await eventually('an idle pool pod', async () => (await list(`${LABEL_POOL}=python`)).filter((p) => live(p) && isReady(p))[0]);
      const name = victim.metadata?.name ?? '';
      await rest.request('PATCH', resourcePath(RESOURCES.Pod, ns, name), {
        body: claimPatch({ resourceVersion: victim.metadata?.resourceVersion ?? '', pool: 'python', unit: 'bye', specHash: hashOf(spec), claimedBy: 'test', now: Date.now() }),
        contentType: CONTENT_MERGE,
      });
      await rest.request('PATCH', resourcePath(RESOURCES.Function, ns, 'bye', 'scale'), { body: { spec: { replicas: 1 } }, contentType: CONTENT_MERGE });
      await eventually('adopted by bye', async () => ((await pod(name))?.metadata?.ownerReferences?.some((r) => r.kind === 'Function' && r.name === 'bye') ? true : undefined));
      await rest.request('DELETE', resourcePath(RESOURCES.Function, ns, 'bye'));
      await eventually('the claimed pod garbage-collected', () => deleted(name));
      // A claim is never undone: nothing put it back in the pool.
      const after = await pod(name);
      expect(after === undefined || after.metadata?.labels?.[LABEL_POOL] === undefined).toBe(true);
    });

    it('refuses a 409 claim on a pod someone changed since (the gateway\'s precondition), leaving it idle', async () => {
      const victim = await eventually('an idle pool pod', async () => (await list(`${LABEL_POOL}=python`)).filter((p) => live(p) && isReady(p))[0]);
      const err = await rest
        .request('PATCH', resourcePath(RESOURCES.Pod, ns, victim.metadata?.name ?? ''), {
          body: claimPatch({ resourceVersion: '1', pool: 'python', unit: 'hello', specHash: 'x', claimedBy: 'test', now: Date.now() }),
          contentType: CONTENT_MERGE,
        })
        .catch((e: unknown) => e);
      expect(isStatus(err, 409)).toBe(true);
      expect((await pod(victim.metadata?.name ?? ''))?.metadata?.labels?.[LABEL_POOL]).toBe('python');
    });

    it('runs pools as `hearth controller`, its /metrics showing them', async () => {
      const cliNs = `${ns}-cli`;
      await createNamespace(rest, cliNs);
      const replicas = controllerReplicas(ctx.kubeconfigPath, cliNs, { leaseSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 1 });
      try {
        replicas.start('cli-0');
        await rest.request('POST', resourcePath(RESOURCES.WarmPool, cliNs), {
          body: { apiVersion: RESOURCES.WarmPool.apiVersion, kind: 'WarmPool', metadata: { name: 'nodejs' }, spec: { runtime: 'nodejs', minSize: 1, maxSize: 2 } },
        });
        const url = await eventually('its metrics URL', async () => {
          for (const line of (replicas.logs.get('cli-0') ?? '').split('\n')) {
            try {
              const l = JSON.parse(line) as { msg?: string; url?: string };
              if (l.msg === 'metrics listening' && l.url) return l.url;
            } catch {
              // Not a log line of ours.
            }
          }
          return undefined;
        });
        const text = await eventually('the pool in its metrics', async () => {
          const t = await (await fetch(url)).text();
          return t.includes('hearth_pool_pods{pool="nodejs",runtime="nodejs",state="ready"} 1') ? t : undefined;
        }, 90_000);
        expect(text).toContain('hearth_pool_desired_size{pool="nodejs",runtime="nodejs"} 1');
        expect(((await getOrUndefined<{ status?: WarmPoolStatus }>(rest, RESOURCES.WarmPool, cliNs, 'nodejs'))?.status)).toMatchObject({ desiredSize: 1, readyPods: 1 });
      } finally {
        replicas.kill();
        await deleteNamespace(rest, cliNs);
      }
    }, 180_000);
  });
}
