// Published versions against a real control plane (kube-apiserver,
// controller-manager with its garbage collector and EndpointSlice
// controller, kwok's fake node running pods): the controller turns each
// FunctionVersion into its own Deployment and Service, labelled and owned so
// that $LATEST's Service never selects a version's pods and deleting the
// Function deletes its versions and theirs; kubectl lists them with their
// columns; versioning.publishOnChange and retain publish and delete through
// the same store the gateway uses.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { V1Deployment, V1Pod, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FunctionVersionStatus } from '../../src/api/function-version.js';
import { Controller } from '../../src/controller/controller.js';
import { defaultImages } from '../../src/controller/resources/images.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { CONTENT_MERGE, KubeRest } from '../../src/kube/rest.js';
import { KubernetesStore } from '../../src/store/kubernetes-store.js';
import {
  controllerReplicas, createNamespace, deleteNamespace, eventually, functionManifest, getOrUndefined, installCrds, pythonSpec, readyCondition, type FunctionObj,
} from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const run = promisify(execFile);

interface VersionObj {
  metadata?: { name?: string; uid?: string; labels?: Record<string, string> };
  spec?: { function?: string; version?: string; replicas?: number };
  status?: FunctionVersionStatus;
}
interface Owned {
  metadata?: { labels?: Record<string, string>; ownerReferences?: { kind?: string; name?: string; uid?: string; controller?: boolean }[] };
}

if (!ctx.available) {
  describe.skip(`versions in the cluster (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('versions in the cluster', () => {
    const ns = `ver-${randomBytes(3).toString('hex')}`;
    const kc = kubeConfigFor(ctx);
    const rest = new KubeRest(kc);
    const store = new KubernetesStore({ rest, namespace: ns, inFlightWaitMs: 500 });
    let controller: Controller;
    const fnPath = (name?: string) => resourcePath(RESOURCES.Function, ns, name);
    const getFn = (name: string) => getOrUndefined<FunctionObj>(rest, RESOURCES.Function, ns, name);
    const getVersion = (name: string) => getOrUndefined<VersionObj>(rest, RESOURCES.FunctionVersion, ns, name);
    const listVersions = async (fn: string) =>
      (await rest.request<{ items: VersionObj[] }>('GET', resourcePath(RESOURCES.FunctionVersion, ns), { query: { labelSelector: `hearth.dev/version-of=${fn}` } })).items;
    const pods = async (selector: string) => (await rest.request<{ items: V1Pod[] }>('GET', resourcePath(RESOURCES.Pod, ns), { query: { labelSelector: selector } })).items;
    const kubectl = async (...args: string[]) => (await run(ctx.kubectl, ['--kubeconfig', ctx.kubeconfigPath, '-n', ns, ...args])).stdout;

    beforeAll(async () => {
      await installCrds(kc);
      await createNamespace(rest, ns);
      controller = new Controller({
        kubeConfig: kc, namespace: ns, images: defaultImages('test'), gatewayService: 'hearth-gateway', gatewayNamespace: 'hearth-system', workers: 4,
        publish: async (namespace, name) => void (await new KubernetesStore({ rest, namespace }).publishVersion(name)),
        deleteVersion: (namespace, name, version) => new KubernetesStore({ rest, namespace }).deleteVersion(name, version),
      });
      await controller.start();
    });

    afterAll(async () => {
      await controller?.stop();
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it("runs a published version from its own Deployment and Service, owned by the FunctionVersion, which $LATEST's Service does not select", async () => {
      await rest.request('POST', fnPath(), { body: functionManifest('hello', pythonSpec('return "v1"')) });
      await eventually('hello Ready', async () => (readyCondition(await getFn('hello'))?.status === 'True' ? true : undefined));
      const { version, created } = await store.publishVersion('hello');
      expect({ n: version.spec.version, created }).toEqual({ n: '1', created: true });
      const fv = await eventually('hello-v1 reported', async () => {
        const v = await getVersion('hello-v1');
        return v?.status?.conditions?.[0]?.status === 'True' ? v : undefined;
      });
      // No alias points to it: it scales to zero.
      expect(fv.status).toMatchObject({ desiredInstances: 0, selector: 'hearth.dev/version-of=hello,hearth.dev/version=1', conditions: [expect.objectContaining({ reason: 'ScaledToZero' })] });
      const versionLabels = { 'app.kubernetes.io/name': 'hello', 'app.kubernetes.io/managed-by': 'hearth', 'hearth.dev/version-of': 'hello', 'hearth.dev/version': '1' };
      for (const [r, name] of [[RESOURCES.Deployment, 'hello-v1'], [RESOURCES.Service, 'hello-v1'], [RESOURCES.ConfigMap, 'hello-v1-code']] as const) {
        const obj = await eventually(`${r.kind} ${name}`, () => getOrUndefined<Owned>(rest, r, ns, name));
        expect(obj.metadata?.ownerReferences, `${r.kind} ${name}`).toEqual([expect.objectContaining({ kind: 'FunctionVersion', name: 'hello-v1', uid: fv.metadata?.uid, controller: true })]);
        expect(obj.metadata?.labels, `${r.kind} ${name}`).toEqual(versionLabels);
      }
      const svc = await getOrUndefined<V1Service>(rest, RESOURCES.Service, ns, 'hello-v1');
      expect(svc?.spec?.selector).toEqual({ 'hearth.dev/version-of': 'hello', 'hearth.dev/version': '1' });
      const cm = await getOrUndefined<{ data?: Record<string, string> }>(rest, RESOURCES.ConfigMap, ns, 'hello-v1-code');
      expect(cm?.data?.['app.py']).toContain('return "v1"');

      // An alias asking for a warm instance starts one; the version's pod is not $LATEST's.
      await store.putAlias('hello', { name: 'live', version: '1', minInstances: 1 }, 'create');
      await eventually('hello-v1 with a ready instance', async () => {
        const v = await getVersion('hello-v1');
        return v?.status?.readyInstances === 1 ? v : undefined;
      });
      const latestPods = await pods('hearth.dev/function=hello');
      const versionPods = await pods('hearth.dev/version-of=hello,hearth.dev/version=1');
      expect(latestPods.map((p) => p.metadata?.name)).toHaveLength(1);
      expect(versionPods.map((p) => p.metadata?.name)).toHaveLength(1);
      expect(versionPods[0]?.metadata?.labels?.['hearth.dev/function']).toBeUndefined();
      const env = Object.fromEntries((versionPods[0]?.spec?.containers.find((c) => c.name === 'runtime')?.env ?? []).map((e) => [e.name, e.value]));
      expect(env).toMatchObject({ AWS_LAMBDA_FUNCTION_NAME: 'hello', AWS_LAMBDA_FUNCTION_VERSION: '1' });
      // The EndpointSlices: $LATEST's hold only its own pod; the version's carry the version labels the gateway maps to hello:1.
      const slices = async (service: string) =>
        (await rest.request<{ items: { metadata?: { labels?: Record<string, string> }; endpoints?: { targetRef?: { name?: string } }[] }[] }>('GET', resourcePath(RESOURCES.EndpointSlice, ns), {
          query: { labelSelector: `kubernetes.io/service-name=${service}` },
        })).items;
      const latestSlices = await eventually('hello slices', async () => {
        const s = await slices('hello');
        return s.flatMap((x) => x.endpoints ?? []).length > 0 ? s : undefined;
      });
      expect(latestSlices.flatMap((x) => x.endpoints ?? []).map((e) => e.targetRef?.name)).toEqual(latestPods.map((p) => p.metadata?.name));
      const versionSlices = await eventually('hello-v1 slices', async () => {
        const s = await slices('hello-v1');
        return s.flatMap((x) => x.endpoints ?? []).length > 0 ? s : undefined;
      });
      expect(versionSlices.flatMap((x) => x.endpoints ?? []).map((e) => e.targetRef?.name)).toEqual(versionPods.map((p) => p.metadata?.name));
      expect(versionSlices[0]?.metadata?.labels).toMatchObject({ 'hearth.dev/version-of': 'hello', 'hearth.dev/version': '1' });
      expect(versionSlices[0]?.metadata?.labels?.['hearth.dev/function']).toBeUndefined();
    });

    it("reports versions and aliases in the Function's status, printer columns and Events", async () => {
      const fn = await eventually('hello status with its version', async () => {
        const f = await getFn('hello');
        return f?.status?.versions?.[0]?.readyInstances === 1 && f.status.aliases === 'live=1' ? f : undefined;
      });
      expect(fn.status).toMatchObject({ latestVersion: '1', versions: [{ version: '1', readyInstances: 1, desiredInstances: 1 }], aliases: 'live=1' });
      expect(fn.status?.conditions?.find((c) => c.type === 'AliasesValid')).toMatchObject({ status: 'True' });

      const fnTable = await kubectl('get', 'functions', 'hello');
      expect(fnTable.split('\n')[0]).toMatch(/^NAME\s+RUNTIME\s+READY\s+INSTANCES\s+LATEST\s+ALIASES\s+AGE/);
      expect(fnTable).toMatch(/hello\s+python3\.12\s+True\s+1\s+1\s+live=1\s/);
      const fnvTable = await kubectl('get', 'functionversions');
      expect(fnvTable.split('\n')[0]).toMatch(/^NAME\s+FUNCTION\s+VERSION\s+READY\s+INSTANCES\s+AGE/);
      expect(fnvTable).toMatch(/hello-v1\s+hello\s+1\s+True\s+1\s/);
      expect(await kubectl('get', 'hearth')).toContain('functionversion.hearth.dev/hello-v1');

      // An alias to a version that does not exist, written past the store (as kubectl would): AliasesValid False with the field.
      await rest.request('PATCH', fnPath('hello'), { body: { spec: { aliases: [{ name: 'live', version: '1', minInstances: 1, additionalVersionWeights: { '9': 0.1 } }] } }, contentType: CONTENT_MERGE });
      const bad = await eventually('AliasesValid False', async () => {
        const c = (await getFn('hello'))?.status?.conditions?.find((x) => x.type === 'AliasesValid');
        return c?.status === 'False' ? c : undefined;
      });
      expect(bad.message).toBe('spec.aliases[0].additionalVersionWeights["9"]: version 9 does not exist');
      const events = async () =>
        (await rest.request<{ items: { reason?: string; message?: string; involvedObject?: { name?: string } }[] }>('GET', resourcePath(RESOURCES.Event, ns))).items.filter((e) => e.involvedObject?.name === 'hello');
      await eventually('the Events', async () => {
        const es = await events();
        return es.some((e) => e.reason === 'AliasChanged' && e.message === 'live: 1 → 1 + 10 % to 9') ? es : undefined;
      });
      const es = await events();
      expect(es).toContainEqual(expect.objectContaining({ reason: 'Published', message: 'published version 1' }));
      expect(es).toContainEqual(expect.objectContaining({ reason: 'AliasChanged', message: 'live: created → 1' }));
      expect(es).toContainEqual(expect.objectContaining({ reason: 'VersionMissing' }));
      await rest.request('PATCH', fnPath('hello'), { body: { spec: { aliases: [{ name: 'live', version: '1', minInstances: 1 }] } }, contentType: CONTENT_MERGE });
    });

    it("does not roll a version when its Function's code changes", async () => {
      const before = await getOrUndefined<V1Deployment>(rest, RESOURCES.Deployment, ns, 'hello-v1');
      await rest.request('PATCH', fnPath('hello'), { body: { spec: { code: { inline: { 'app.py': 'def handler(event, context):\n    return "v2"\n' } } } }, contentType: CONTENT_MERGE });
      await eventually('$LATEST rolled', async () => {
        const cm = await getOrUndefined<{ data?: Record<string, string> }>(rest, RESOURCES.ConfigMap, ns, 'hello-code');
        return cm?.data?.['app.py']?.includes('"v2"') ? true : undefined;
      });
      await sleep(2000);
      const after = await getOrUndefined<V1Deployment>(rest, RESOURCES.Deployment, ns, 'hello-v1');
      expect(after?.metadata?.generation).toBe(before?.metadata?.generation);
      expect((await getOrUndefined<{ data?: Record<string, string> }>(rest, RESOURCES.ConfigMap, ns, 'hello-v1-code'))?.data?.['app.py']).toContain('"v1"');
    });

    it('publishes on change and keeps only `retain` versions no alias points to', async () => {
      const s = (body: string) => ({ ...pythonSpec(body), scaling: { minInstances: 0 }, versioning: { publishOnChange: true, retain: 2 } });
      await rest.request('POST', fnPath(), { body: functionManifest('auto', s('return 1')) });
      await eventually('auto-v1 published', async () => ((await listVersions('auto')).length === 1 ? true : undefined));
      for (const n of [2, 3]) {
        await rest.request('PATCH', fnPath('auto'), { body: { spec: s(`return ${n}`) }, contentType: CONTENT_MERGE });
        await eventually(`auto-v${n} published`, async () => ((await getVersion(`auto-v${n}`)) !== undefined ? true : undefined));
      }
      // Version 1 is past retain 2 and no alias points to it: deleted, and its objects with it.
      await eventually('auto-v1 and its objects gone', async () => {
        const left = await Promise.all([getVersion('auto-v1'), getOrUndefined(rest, RESOURCES.Deployment, ns, 'auto-v1'), getOrUndefined(rest, RESOURCES.Service, ns, 'auto-v1')]);
        return left.every((x) => x === undefined) ? true : undefined;
      });
      // An alias change is not a change of code or configuration: no version 4.
      await rest.request('PATCH', fnPath('auto'), { body: { spec: { aliases: [{ name: 'live', version: '2' }] } }, contentType: CONTENT_MERGE });
      await eventually('alias seen', async () => ((await getFn('auto'))?.status?.aliases === 'live=2' ? true : undefined));
      await sleep(2000);
      expect((await listVersions('auto')).map((v) => v.spec?.version).sort()).toEqual(['2', '3']);
      expect((await getFn('auto'))?.status?.latestVersion).toBe('3');
    });

    it('publishes on change and deletes past retain when run as `hearth controller` (its store wired in)', async () => {
      const cliNs = `${ns}-cli`;
      await createNamespace(rest, cliNs);
      const replicas = controllerReplicas(ctx.kubeconfigPath, cliNs, { leaseSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 1 });
      try {
        replicas.start('cli-0');
        const s = (body: string) => ({ ...pythonSpec(body), scaling: { minInstances: 0 }, versioning: { publishOnChange: true, retain: 1 } });
        const versionsThere = async () =>
          (await rest.request<{ items: VersionObj[] }>('GET', resourcePath(RESOURCES.FunctionVersion, cliNs))).items.map((v) => v.spec?.version).sort();
        await rest.request('POST', resourcePath(RESOURCES.Function, cliNs), { body: functionManifest('cli', s('return 1')) });
        await eventually('cli-v1 published', async () => ((await versionsThere()).join() === '1' ? true : undefined), 90_000);
        await rest.request('PATCH', resourcePath(RESOURCES.Function, cliNs, 'cli'), { body: { spec: s('return 2') }, contentType: CONTENT_MERGE });
        await eventually('only cli-v2 left', async () => ((await versionsThere()).join() === '2' ? true : undefined), 90_000);
      } finally {
        replicas.kill();
        await deleteNamespace(rest, cliNs);
      }
    }, 240_000);

    it('deletes the versions of a deleted Function, and their objects', async () => {
      await rest.request('DELETE', fnPath('hello'));
      await eventually('hello, its version and their objects gone', async () => {
        const left = await Promise.all([
          getFn('hello'),
          getVersion('hello-v1'),
          getOrUndefined(rest, RESOURCES.Deployment, ns, 'hello-v1'),
          getOrUndefined(rest, RESOURCES.Service, ns, 'hello-v1'),
          getOrUndefined(rest, RESOURCES.ConfigMap, ns, 'hello-v1-code'),
          getOrUndefined(rest, RESOURCES.Deployment, ns, 'hello'),
        ]);
        return left.every((x) => x === undefined) ? true : undefined;
      });
    });
  });
}
