// The API server itself enforces the rules the zod schema states, through
// the CRD's bounds and CEL rules: each bad Function is refused with the
// field it concerns, and a good one passes. A FunctionVersion is immutable
// but for its replicas and description (a CEL transition rule).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_MERGE, KubeRest } from '../../src/kube/rest.js';
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
      await waitEstablished(kc, ['functions.hearth.dev', 'functionversions.hearth.dev']);
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
      ['a log level with the Text log format', { ...good, logging: { applicationLogLevel: 'WARN' } }, 'need format JSON'],
      ['an unknown application log level', { ...good, logging: { format: 'JSON', applicationLogLevel: 'LOUD' } }, 'spec.logging.applicationLogLevel'],
    ])('refuses %s', async (_name, spec, message) => {
      expect(await dryRun(spec)).toContain(message);
    });

    it('accepts the logging controls in JSON', async () => {
      expect(await dryRun({ ...good, logging: { format: 'JSON', applicationLogLevel: 'WARN', systemLogLevel: 'DEBUG', logGroup: '/custom/g' } })).toBeUndefined();
    });

    const alias = (a: Record<string, unknown>) => ({ ...good, aliases: [{ name: 'live', version: '1', ...a }] });
    it.each([
      ['a weight above 1', alias({ additionalVersionWeights: { '2': 1.5 } }), 'spec.aliases[0].additionalVersionWeights'],
      ['a negative weight', alias({ additionalVersionWeights: { '2': -0.1 } }), 'spec.aliases[0].additionalVersionWeights'],
      ['two additional versions', alias({ additionalVersionWeights: { '2': 0.1, '3': 0.1 } }), 'spec.aliases[0].additionalVersionWeights: Too many'],
      ['an alias named like a number', alias({ name: '12' }), 'spec.aliases[0].name'],
      ['an alias named $LATEST', alias({ name: '$LATEST' }), 'spec.aliases[0].name'],
      ['an alias to a version that is not a number', alias({ version: 'v1' }), 'spec.aliases[0].version'],
    ])('refuses %s, naming the field', async (_name, spec, field) => {
      expect(await dryRun(spec)).toContain(field);
    });

    it('accepts aliases within the rules', async () => {
      expect(await dryRun({ ...good, aliases: [{ name: 'live', version: '1', additionalVersionWeights: { '2': 0.1 }, minInstances: 2 }, { name: 'dev', version: '$LATEST' }] })).toBeUndefined();
    });

    describe('a FunctionVersion', () => {
      const fvPath = (name?: string) => `/apis/hearth.dev/v1alpha1/namespaces/default/functionversions${name !== undefined ? `/${name}` : ''}`;
      const version = {
        apiVersion: 'hearth.dev/v1alpha1',
        kind: 'FunctionVersion',
        metadata: { name: 'probe-v1' },
        spec: { function: 'probe', version: '1', codeSha256: 'a'.repeat(64), snapshot: good },
      };
      let rest: KubeRest;
      beforeAll(async () => {
        rest = new KubeRest(kubeConfigFor(ctx));
        await rest.request('DELETE', fvPath('probe-v1')).catch(() => undefined);
        await rest.request('POST', fvPath(), { body: version });
      });
      afterAll(async () => {
        await rest.request('DELETE', fvPath('probe-v1')).catch(() => undefined);
        rest.close();
      });

      const patch = async (body: unknown, subresource = ''): Promise<string | undefined> => {
        try {
          await rest.request('PATCH', `${fvPath('probe-v1')}${subresource}`, { body, contentType: CONTENT_MERGE });
          return undefined;
        } catch (err) {
          return err instanceof Error ? err.message : String(err);
        }
      };

      it.each([
        ['its snapshot', { spec: { snapshot: { timeoutSeconds: 30 } } }],
        ['its code', { spec: { snapshot: { code: { inline: { 'app.py': 'def handler(e, c):\n    return 2\n' } } } } }],
        ['its digest', { spec: { codeSha256: 'b'.repeat(64) } }],
        ['its number', { spec: { version: '2' } }],
      ])('refuses an edit of %s', async (_what, body) => {
        expect(await patch(body)).toContain('a published version is immutable');
      });

      it('lets replicas (also through the scale subresource) and the description change', async () => {
        expect(await patch({ spec: { replicas: 2 } })).toBeUndefined();
        expect(await patch({ spec: { replicas: 3 } }, '/scale')).toBeUndefined();
        expect(await patch({ spec: { description: 'canary' } })).toBeUndefined();
        const got = await rest.request<{ spec: { replicas?: number; description?: string } }>('GET', fvPath('probe-v1'));
        expect(got.spec).toMatchObject({ replicas: 3, description: 'canary' });
      });

      it('is listed by kubectl with its printer columns', async () => {
        const { stdout } = await run(ctx.kubectl, ['--kubeconfig', ctx.kubeconfigPath, 'get', 'fnv', '-n', 'default']);
        expect(stdout.split('\n')[0]).toMatch(/^NAME\s+FUNCTION\s+VERSION\s+READY\s+INSTANCES\s+AGE/);
        expect(stdout).toMatch(/probe-v1\s+probe\s+1\s/);
      });
    });

    it('passes kubectl apply --dry-run=client -f crds/', async () => {
      const { stdout } = await run(ctx.kubectl, ['--kubeconfig', ctx.kubeconfigPath, 'apply', '--dry-run=client', '-f', crdsDir]);
      expect(stdout).toContain('functions.hearth.dev');
      expect(stdout).toContain('functionversions.hearth.dev');
    });
  });
}
