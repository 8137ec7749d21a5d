// The API server itself enforces the rules the zod schema states, through
// the CRD's bounds and CEL rules: each bad Function is refused with the
// field it concerns, and a good one passes.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyDir, waitEstablished } from './crds.js';
import { k8sContext, kubeConfigFor } from './kube.js';

const ctx = k8sContext();
const run = promisify(execFile);
const crdsDir = fileURLToPath(new URL('../../crds/', import.meta.url));
const good = { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } } };

if (!ctx.available) {
  describe.skip(`CRD validation by the API server (skipped: ${ctx.reason})`, () => {
    it('needs a Kubernetes control plane', () => undefined);
  });
} else {
  describe('CRD validation by the API server', () => {
    let api: CustomObjectsApi;
    beforeAll(async () => {
      const kc = kubeConfigFor(ctx);
      await applyDir(ctx.kubectl, ctx.kubeconfigPath, crdsDir);
      await waitEstablished(kc, ['functions.hearth.dev']);
      api = kc.makeApiClient(CustomObjectsApi);
    });

    async function dryRun(spec: unknown): Promise<string | undefined> {
      try {
        await api.createNamespacedCustomObject({
          group: 'hearth.dev',
          version: 'v1alpha1',
          namespace: 'default',
          plural: 'functions',
          dryRun: 'All',
          body: { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'probe' }, spec },
        });
        return undefined;
      } catch (err) {
        if (err instanceof ApiException) return String(err.body);
        throw err;
      }
    }

    it('accepts a valid Function', async () => {
      expect(await dryRun(good)).toBeUndefined();
    });

    it.each([
      ['two code sources', { ...good, code: { ...good.code, image: 'x' } }, 'exactly one of inline, configMap, image or package'],
      ['min above max instances', { ...good, scaling: { minInstances: 5, maxInstances: 2 } }, 'minInstances must not exceed maxInstances'],
      ['a reserved variable', { ...good, env: [{ name: 'AWS_REGION', value: 'x' }] }, 'reserved by the runtime'],
      ['more than 4 KB of environment', { ...good, env: [{ name: 'A', value: 'x'.repeat(3000) }, { name: 'B', value: 'y'.repeat(2000) }] }, 'may not exceed 4096 bytes'],
      ['provided without image or package', { runtime: 'provided', code: good.code }, 'runtime provided needs an image'],
      ['a missing handler', { runtime: 'nodejs20', code: good.code }, 'handler is required'],
      ['a timeout over 900 s', { ...good, timeoutSeconds: 901 }, 'spec.timeoutSeconds'],
      ['an unknown runtime', { ...good, runtime: 'cobol' }, 'spec.runtime'],
    ])('refuses %s', async (_name, spec, message) => {
      expect(await dryRun(spec)).toContain(message);
    });

    it('passes kubectl apply --dry-run=client -f crds/', async () => {
      const { stdout } = await run(ctx.kubectl, ['--kubeconfig', ctx.kubeconfigPath, 'apply', '--dry-run=client', '-f', crdsDir]);
      expect(stdout).toContain('functions.hearth.dev');
    });
  });
}
