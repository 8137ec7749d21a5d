// `hearth deploy` against a real API server: local packages become ConfigMaps
// holding the ZIP in binaryData, and the Function is applied pointing at them.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { HearthFunction } from '../../src/api/function.js';
import { validateFunction } from '../../src/api/validate.js';
import { RESOURCES, resourcePath } from '../../src/kube/paths.js';
import { KubeRest } from '../../src/kube/rest.js';
import { sha256 } from '../../src/packages/digest.js';
import { deployToCluster } from '../../src/packages/deploy-cluster.js';
import { zipBytes } from '../packages/zip-bytes.js';
import { createNamespace, deleteNamespace, installCrds } from './controller-helpers.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();

interface ConfigMap {
  metadata?: { annotations?: Record<string, string> };
  binaryData?: Record<string, string>;
}
interface Fn {
  spec?: { code?: { package?: { configMap?: { name: string; key: string }; sha256?: string } }; layers?: unknown[] };
}

if (!ctx.available) {
  describe.skip(`hearth deploy to a cluster (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('hearth deploy to a cluster', () => {
    const ns = `deploy-${randomBytes(3).toString('hex')}`;
    let rest: KubeRest;
    let work: string;

    const doc = (name: string, path: string) => ({
      apiVersion: 'hearth.dev/v1alpha1',
      kind: 'Function',
      metadata: { name },
      spec: { runtime: 'python3.12', handler: 'app.handler', code: { package: { path } } },
    });
    const valid = (raw: unknown): HearthFunction => {
      const r = validateFunction(raw);
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      return r.value;
    };

    beforeAll(async () => {
      const kc = kubeConfigFor(ctx);
      await installCrds(kc);
      rest = new KubeRest(kc);
      await createNamespace(rest, ns);
      work = mkdtempSync(join(tmpdir(), 'hearth-deploy-k8s-'));
      mkdirSync(join(work, 'src'));
    });
    afterAll(async () => {
      if (rest !== undefined) {
        await deleteNamespace(rest, ns);
        rest.close();
      }
      rmSync(work, { recursive: true, force: true });
    });

    it('stores the package in <name>-package and applies the Function pointing at it, again on change', async () => {
      for (const version of ['one', 'two']) {
        writeFileSync(join(work, 'src', 'app.py'), `def handler(e, c):\n    return "${version}"\n`);
        const raw = doc('pkg', 'src');
        await deployToCluster(rest, valid(raw), parse(JSON.stringify(raw)), work, ns);
        const cm = await rest.request<ConfigMap>('GET', resourcePath(RESOURCES.ConfigMap, ns, 'pkg-package'));
        const zip = Buffer.from(cm.binaryData?.['package.zip'] ?? '', 'base64');
        expect(zip.length).toBeGreaterThan(0);
        expect(cm.metadata?.annotations?.['hearth.dev/package-sha256']).toBe(sha256(zip));
        const fn = await rest.request<Fn>('GET', resourcePath(RESOURCES.Function, ns, 'pkg'));
        expect(fn.spec?.code?.package).toEqual({ configMap: { name: 'pkg-package', key: 'package.zip' }, sha256: sha256(zip) });
      }
    });

    it('refuses a package larger than a ConfigMap holds, before writing anything', async () => {
      // A sound ZIP (hearth deploy checks packages first), stored so that its random bytes keep their size.
      writeFileSync(join(work, 'big.zip'), zipBytes([{ name: 'app.py', data: 'x' }, { name: 'noise.bin', data: randomBytes(1100 * 1024), store: true }]));
      const raw = doc('big', 'big.zip');
      await expect(deployToCluster(rest, valid(raw), raw, work, ns)).rejects.toThrow(/more than a ConfigMap holds/);
      await expect(rest.request('GET', resourcePath(RESOURCES.Function, ns, 'big'))).rejects.toThrow(/404/);
    });
  });
}
