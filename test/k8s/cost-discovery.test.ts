// `hearth cost --service`: the gateway pods behind a Service, found through
// the real API server's EndpointSlices (only the Service's, each pod once),
// and read through its pod proxy. The stand-in pods here do not exist, so the
// proxy answers 404 for each: the command names every pod it could not read
// instead of printing a sum that leaves them out.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeAll, serviceSources } from '../../src/cli/cost-sources.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { KubeRest } from '../../src/kube/rest.js';
import { createNamespace, deleteNamespace } from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const run = promisify(execFile);

function slice(name: string, service: string, port: { name: string; port: number }, pods: string[]) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ ...port, protocol: 'TCP' }],
    endpoints: pods.map((p, i) => ({ addresses: [`10.244.0.${i + 10}`], conditions: { ready: true }, targetRef: { kind: 'Pod', name: p } })),
  };
}

if (!ctx.available) {
  describe.skip(`hearth cost --service (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('hearth cost --service against a real API server', () => {
    const ns = `cost-${randomBytes(3).toString('hex')}`;
    const rest = new KubeRest(kubeConfigFor(ctx));

    beforeAll(async () => {
      await createNamespace(rest, ns);
      const create = (body: unknown) => rest.request('POST', resourcePath(RESOURCES.EndpointSlice, ns), { body });
      await create(slice('gw-1', 'hearth-gateway', { name: 'http', port: 8080 }, ['gw-b', 'gw-a']));
      await create(slice('gw-2', 'hearth-gateway', { name: 'http', port: 8080 }, ['gw-a', 'gw-c']));
      await create(slice('ctl-1', 'hearth-controller-metrics', { name: 'metrics', port: 9464 }, ['ctl-a']));
    });

    afterAll(async () => {
      await deleteNamespace(rest, ns);
      rest.close();
    });

    it('finds every gateway pod behind the Service once, and only those', async () => {
      const sources = await serviceSources(rest, ns, 'hearth-gateway');
      expect(sources.map((s) => s.label)).toEqual([`${ns}/gw-a`, `${ns}/gw-b`, `${ns}/gw-c`]);
      const scraped = await scrapeAll(sources);
      expect(scraped.read).toEqual([]);
      expect(scraped.failed.map((f) => f.label)).toEqual([`${ns}/gw-a`, `${ns}/gw-b`, `${ns}/gw-c`]);
      expect(scraped.failed[0]?.error).toBe(`GET /api/v1/namespaces/${ns}/pods/gw-a:8080/proxy/metrics: HTTP 404: pods "gw-a" not found`);
    });

    it('names the Service that has no gateway pods', async () => {
      await expect(serviceSources(rest, ns, 'nothing-here')).rejects.toThrow(`Service ${ns}/nothing-here has no gateway pods`);
    });

    it('as a command: says which pods it could not read and exits non-zero', async () => {
      const r = await run('node_modules/.bin/tsx', ['src/cli/main.ts', 'cost', '--service', 'hearth-gateway', '--namespace', ns, '--kubeconfig', ctx.kubeconfigPath]).then(
        (o) => ({ code: 0, ...o }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      expect(r.code).toBe(1);
      for (const pod of ['gw-a', 'gw-b', 'gw-c']) expect(r.stderr).toContain(`hearth cost: could not read ${ns}/${pod}:`);
    });
  });
}
