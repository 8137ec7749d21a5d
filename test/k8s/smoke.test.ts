import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiException, AppsV1Api, AuthenticationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { applyDir, readManifests, waitEstablished } from './crds.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
// HEARTH_CRDS_DIR lets a developer try other CRDs by hand; the suite's contract is crds/.
const crdsDir = process.env.HEARTH_CRDS_DIR ?? fileURLToPath(new URL('../../crds/', import.meta.url));
const fn = { group: 'hearth.dev', version: 'v1alpha1', plural: 'functions' } as const;

interface FunctionObject {
  metadata?: { name?: string };
  spec?: { runtime?: string; handler?: string; memoryMB?: number; timeoutSeconds?: number; code?: Record<string, unknown> };
}

interface StatusBody {
  reason?: string;
  message?: string;
  details?: { causes?: { field?: string; message?: string }[] };
}

function functionManifest(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: `${fn.group}/${fn.version}`, kind: 'Function', metadata: { name }, spec };
}

const helloSpec = {
  runtime: 'python3.12',
  handler: 'app.handler',
  code: { inline: { 'app.py': 'def handler(event, context):\n    return {"hello": event.get("name", "world")}\n' } },
};

if (!ctx.available) {
  describe.skip(`Kubernetes smoke test (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('Kubernetes smoke test against a real API server', () => {
    const ns = `smoke-${randomBytes(3).toString('hex')}`;
    let kc: KubeConfig;
    let core: CoreV1Api;

    beforeAll(async () => {
      kc = kubeConfigFor(ctx);
      core = kc.makeApiClient(CoreV1Api);
      await core.createNamespace({ body: { metadata: { name: ns } } });
    });

    afterAll(async () => {
      await core?.deleteNamespace({ name: ns }).catch(() => undefined);
    });

    it('applies every manifest in crds/ and serves the Function kind', async () => {
      const objects = await readManifests(crdsDir);
      expect(objects.length, `no manifests in ${crdsDir}`).toBeGreaterThan(0);
      await applyDir(ctx.kubectl, ctx.kubeconfigPath, crdsDir);
      const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata?.name ?? '');
      expect(crds).toContain('functions.hearth.dev');
      await waitEstablished(kc, crds);
    });

    it('stores a Function with the CRD schema defaults applied by the API server', async () => {
      const custom = kc.makeApiClient(CustomObjectsApi);
      await custom.createNamespacedCustomObject({ ...fn, namespace: ns, body: functionManifest('hello', helloSpec) });
      const got = (await custom.getNamespacedCustomObject({ ...fn, namespace: ns, name: 'hello' })) as FunctionObject;
      expect(got.spec).toMatchObject({ ...helloSpec, memoryMB: 128, timeoutSeconds: 3 });
    });

    it('is refused by the API server itself when memoryMB is below the minimum', async () => {
      const custom = kc.makeApiClient(CustomObjectsApi);
      const attempt = custom.createNamespacedCustomObject({
        ...fn, namespace: ns, body: functionManifest('too-small', { ...helloSpec, memoryMB: 64 }),
      });
      const err = await attempt.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ApiException);
      const apiErr = err as ApiException<unknown>;
      expect(apiErr.code).toBe(422);
      const status = JSON.parse(String(apiErr.body)) as StatusBody;
      expect(status.reason).toBe('Invalid');
      // The wording is the API server's OpenAPI schema validation, not ours.
      expect(status.details?.causes).toContainEqual(
        expect.objectContaining({ field: 'spec.memoryMB', message: expect.stringContaining('should be greater than or equal to 128') }),
      );
      await expect(custom.getNamespacedCustomObject({ ...fn, namespace: ns, name: 'too-small' })).rejects.toMatchObject({ code: 404 });
    });

    it('issues ServiceAccount tokens the API server accepts, and publishes the root CA', async () => {
      const issued = await core.createNamespacedServiceAccountToken({ namespace: ns, name: 'default', body: { spec: { audiences: [] } } });
      const saToken = issued.status?.token;
      expect(saToken).toBeTruthy();
      const asSa = new KubeConfig();
      asSa.loadFromOptions({
        clusters: [{ name: 'c', server: ctx.server, caData: Buffer.from(ctx.caPem).toString('base64') }],
        users: [{ name: 'sa', token: saToken }],
        contexts: [{ name: 'c', cluster: 'c', user: 'sa' }],
        currentContext: 'c',
      });
      const review = await asSa.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
      expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${ns}:default`);

      // The controller-manager's root-ca-cert-publisher copies --root-ca-file into every namespace.
      let rootCa: string | undefined;
      for (let i = 0; i < 40 && rootCa === undefined; i++) {
        rootCa = await core.readNamespacedConfigMap({ namespace: ns, name: 'kube-root-ca.crt' }).then((cm) => cm.data?.['ca.crt'], () => undefined);
        if (rootCa === undefined) await sleep(250);
      }
      expect(rootCa?.trim()).toBe(ctx.caPem.trim());
    });

    it('runs a Deployment whose pods kwok reports Running with pod IPs', async () => {
      const apps = kc.makeApiClient(AppsV1Api);
      const labels = { app: 'smoke' };
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: 'smoke' },
          spec: {
            replicas: 3,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              // kwok fakes the kubelet, so the image is never pulled.
              spec: { containers: [{ name: 'app', image: 'example.invalid/hearth/smoke:1' }] },
            },
          },
        },
      });
      let pods: V1Pod[] = [];
      let readyReplicas: number | undefined;
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=smoke' })).items;
        readyReplicas = (await apps.readNamespacedDeployment({ namespace: ns, name: 'smoke' })).status?.readyReplicas;
        if (readyReplicas === 3 && pods.length === 3 && pods.every((p) => p.status?.phase === 'Running' && p.status.podIP)) break;
        await sleep(500);
      }
      expect(pods.map((p) => p.status?.phase)).toEqual(['Running', 'Running', 'Running']);
      for (const p of pods) {
        expect(p.spec?.nodeName).toMatch(/^kwok-node-/);
        expect(p.status?.podIP).toMatch(/^10\.1\.\d+\.\d+$/);
      }
      expect(readyReplicas).toBe(3);
    });
  });
}
