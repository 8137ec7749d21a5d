// `hearth gateway` against the real API server: it serves the Functions of
// its namespace as they come and go, and a call to a function at zero
// instances scales it up through the Function's scale subresource. (kwok's
// pods do not answer, so invocations themselves are the process-node
// suite's business.)
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterGateway, type ClusterGateway } from '../../src/platform/cluster.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { applyDir, waitEstablished } from './crds.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const crdsDir = fileURLToPath(new URL('../../crds/', import.meta.url));
const fnApi = { group: 'hearth.dev', version: 'v1alpha1', plural: 'functions' } as const;
const spec = { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } } };

const until = <T>(probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> => waitFor('the gateway to follow the cluster', probe, ms, 100);

if (!ctx.available) {
  describe.skip(`hearth gateway in a cluster (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('hearth gateway in a cluster', () => {
    const ns = `gw-${randomBytes(3).toString('hex')}`;
    let redis: RedisServer;
    let gateway: ClusterGateway;
    let objects: CustomObjectsApi;
    let core: CoreV1Api;

    beforeAll(async () => {
      const kc = kubeConfigFor(ctx);
      await applyDir(ctx.kubectl, ctx.kubeconfigPath, crdsDir);
      await waitEstablished(kc, ['functions.hearth.dev', 'functionversions.hearth.dev']);
      core = kc.makeApiClient(CoreV1Api);
      objects = kc.makeApiClient(CustomObjectsApi);
      await core.createNamespace({ body: { metadata: { name: ns } } });
      redis = await startRedis();
      gateway = await startClusterGateway({ kubeConfig: kc, namespace: ns, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), redis: { url: redis.url }, leaderElect: true });
    }, 60_000);

    afterAll(async () => {
      await gateway?.close();
      await redis?.stop();
      await core?.deleteNamespace({ name: ns }).catch(() => undefined);
    });

    const dryRun = (name: string) => fetch(`${gateway.url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': 'DryRun' }, body: '{}' });

    it('serves a Function once it exists, and forgets it when deleted', async () => {
      expect((await dryRun('hello')).status).toBe(404);
      await objects.createNamespacedCustomObject({ ...fnApi, namespace: ns, body: { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'hello' }, spec } });
      await until(async () => ((await dryRun('hello')).status === 204 ? true : undefined));
      await objects.deleteNamespacedCustomObject({ ...fnApi, namespace: ns, name: 'hello' });
      await until(async () => ((await dryRun('hello')).status === 404 ? true : undefined));
    });

    it('scales a function at zero up through the scale subresource when called', async () => {
      await objects.createNamespacedCustomObject({ ...fnApi, namespace: ns, body: { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'cold' }, spec } });
      await until(async () => ((await dryRun('cold')).status === 204 ? true : undefined));
      // The call waits for an instance that (without a controller here) never comes; the scale request is what we look for.
      const call = fetch(`${gateway.url}/2015-03-31/functions/cold/invocations`, { method: 'POST', body: '{}' }).catch(() => undefined);
      const replicas = await until(async () => {
        const fn = (await objects.getNamespacedCustomObject({ ...fnApi, namespace: ns, name: 'cold' })) as { spec?: { replicas?: number } };
        return fn.spec?.replicas !== undefined && fn.spec.replicas >= 1 ? fn.spec.replicas : undefined;
      });
      expect(replicas).toBeGreaterThanOrEqual(1);
      await call;
    }, 30_000);

    it('queues Event invocations in Redis and keeps their records', async () => {
      await objects.createNamespacedCustomObject({ ...fnApi, namespace: ns, body: { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'later' }, spec } });
      await until(async () => ((await dryRun('later')).status === 204 ? true : undefined));
      const res = await fetch(`${gateway.url}/2015-03-31/functions/later/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': 'Event' }, body: '{}' });
      expect(res.status).toBe(202);
      const id = res.headers.get('x-amzn-requestid');
      const record = await fetch(`${gateway.url}/invocations/${id}`);
      expect(record.status).toBe(200);
      expect(((await record.json()) as { functionName: string }).functionName).toBe('later');
    });

    it('publishes and aliases through the control routes into the cluster, serves the qualifiers, and scales a version through its FunctionVersion', async () => {
      await objects.createNamespacedCustomObject({ ...fnApi, namespace: ns, body: { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'pub' }, spec } });
      await until(async () => ((await dryRun('pub')).status === 204 ? true : undefined));
      const published = await fetch(`${gateway.url}/2015-03-31/functions/pub/versions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Description: 'first' }) });
      expect(published.status).toBe(201);
      expect(((await published.json()) as { Version: string }).Version).toBe('1');
      const fv = (await objects.getNamespacedCustomObject({ group: 'hearth.dev', version: 'v1alpha1', plural: 'functionversions', namespace: ns, name: 'pub-v1' })) as { spec: { function: string; version: string; description?: string } };
      expect(fv.spec).toMatchObject({ function: 'pub', version: '1', description: 'first' });
      // The gateway's watch brings the version into its catalog: pub:1 resolves.
      await until(async () => ((await dryRun('pub:1')).status === 204 ? true : undefined));
      expect((await dryRun('pub:2')).status).toBe(404);

      const alias = await fetch(`${gateway.url}/2015-03-31/functions/pub/aliases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Name: 'live', FunctionVersion: '1' }) });
      expect(alias.status).toBe(201);
      const fn = (await objects.getNamespacedCustomObject({ ...fnApi, namespace: ns, name: 'pub' })) as { spec: { aliases?: { name: string; version: string }[] } };
      expect(fn.spec.aliases).toEqual([expect.objectContaining({ name: 'live', version: '1' })]);
      await until(async () => ((await dryRun('pub:live')).status === 204 ? true : undefined));

      // A call to version 1 at zero instances scales version 1, not $LATEST.
      const call = fetch(`${gateway.url}/2015-03-31/functions/pub:1/invocations`, { method: 'POST', body: '{}' }).catch(() => undefined);
      const replicas = await until(async () => {
        const v = (await objects.getNamespacedCustomObject({ group: 'hearth.dev', version: 'v1alpha1', plural: 'functionversions', namespace: ns, name: 'pub-v1' })) as { spec?: { replicas?: number } };
        return v.spec?.replicas !== undefined && v.spec.replicas >= 1 ? v.spec.replicas : undefined;
      });
      expect(replicas).toBeGreaterThanOrEqual(1);
      const latest = (await objects.getNamespacedCustomObject({ ...fnApi, namespace: ns, name: 'pub' })) as { spec?: { replicas?: number } };
      expect(latest.spec?.replicas ?? 0).toBe(0);
      await call;
    }, 40_000);
  });
}
