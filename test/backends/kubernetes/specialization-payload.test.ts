// What a claimed pool pod is given: exactly what a pod of the unit's
// Deployment would see (runtimeEnv, the files of its code volume, the
// packages its init containers unpack), in the wire form the agent checks.
import { describe, expect, it } from 'vitest';
import { FunctionSchema, type FunctionSpecInput, type HearthFunction } from '../../../src/api/function.js';
import { buildSpecialization, configMapsOf, SpecializationInputError, type ConfigMapData } from '../../../src/backends/kubernetes/specialization-payload.js';
import { runtimeEnv } from '../../../src/controller/resources/deployment.js';
import { SpecializationSchema } from '../../../src/pools/specialization.js';

const SHA = 'a'.repeat(64);
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function fn(name: string, spec: Partial<FunctionSpecInput>): HearthFunction {
  return FunctionSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name },
    spec: { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } }, ...spec },
  });
}

const none = new Map<string, ConfigMapData | undefined>();

describe('buildSpecialization', () => {
  it('inline code: the files, base64; env exactly runtimeEnv as name → value; the unit and its limits', () => {
    const f = fn('orders', { env: [{ name: 'GREETING', value: 'héllo' }, { name: 'EMPTY', value: '' }], memoryMB: 256, timeoutSeconds: 7, concurrency: 3 });
    const s = buildSpecialization(f, 'orders', none);
    expect(SpecializationSchema.parse(s)).toEqual(s);
    expect(s).toMatchObject({ unit: 'orders', functionName: 'orders', version: '$LATEST', memoryMB: 256, timeoutSeconds: 7, concurrency: 3 });
    expect(s.files).toEqual({ 'app.py': b64('def handler(e, c):\n    return 1\n') });
    expect(s.archives).toBeUndefined();
    const want = Object.fromEntries(runtimeEnv(f, { functionName: 'orders', version: '$LATEST' }).map((e) => [e.name, e.value]));
    expect(s.env).toEqual(want);
    expect(s.env).toMatchObject({ GREETING: 'héllo', EMPTY: '', AWS_LAMBDA_FUNCTION_NAME: 'orders', AWS_LAMBDA_FUNCTION_VERSION: '$LATEST', _HANDLER: 'app.handler', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256' });
  });

  it('a version NAME:N: its function name and version number', () => {
    // A unit is handed around with its key as metadata.name (src/versions/units.ts).
    const f = fn('orders', {});
    const s = buildSpecialization({ ...f, metadata: { ...f.metadata, name: 'orders:4' } }, 'orders:4', none);
    expect(s).toMatchObject({ unit: 'orders:4', functionName: 'orders', version: '4' });
    expect(s.env).toMatchObject({ AWS_LAMBDA_FUNCTION_NAME: 'orders', AWS_LAMBDA_FUNCTION_VERSION: '4' });
  });

  it('code from a ConfigMap: its data as UTF-8, its binaryData as is', () => {
    const f = fn('cm', { code: { configMap: { name: 'cm-src' } } });
    expect(configMapsOf(f)).toEqual(['cm-src']);
    const s = buildSpecialization(f, 'cm', new Map([['cm-src', { data: { 'app.py': 'print(1)' }, binaryData: { 'blob.bin': 'AAEC' } }]]));
    expect(s.files).toEqual({ 'app.py': b64('print(1)'), 'blob.bin': 'AAEC' });
  });

  it('a missing code ConfigMap: refused (a pod would not start either)', () => {
    expect(() => buildSpecialization(fn('cm', { code: { configMap: { name: 'gone' } } }), 'cm', new Map([['gone', undefined]]))).toThrow(SpecializationInputError);
  });

  it('a package and layers by URL: archives in order, task then opt, with their digests', () => {
    const f = fn('pkg', { code: { package: { url: 'https://example.test/code.zip', sha256: SHA } }, layers: [{ url: 'https://example.test/l1.zip', sha256: SHA }, { url: 'https://example.test/l2.zip', sha256: SHA }] });
    const s = buildSpecialization(f, 'pkg', none);
    expect(s.files).toBeUndefined();
    expect(s.archives).toEqual([
      { into: 'task', url: 'https://example.test/code.zip', sha256: SHA },
      { into: 'opt', url: 'https://example.test/l1.zip', sha256: SHA },
      { into: 'opt', url: 'https://example.test/l2.zip', sha256: SHA },
    ]);
    // Layers put their paths in the environment, as on a Deployment's pod.
    expect(s.env.PYTHONPATH).toBeDefined();
  });

  it('a package and a layer in ConfigMaps: their binaryData keys as zipBase64; an optional missing one is skipped', () => {
    const f = fn('pkg', {
      code: { package: { configMap: { name: 'code-zip', key: 'code.zip' }, sha256: SHA } },
      layers: [{ configMap: { name: 'layers', key: 'one.zip' } }, { configMap: { name: 'layers', key: 'absent.zip', optional: true } }, { configMap: { name: 'nowhere', key: 'x.zip', optional: true } }],
    });
    expect(configMapsOf(f).sort()).toEqual(['code-zip', 'layers', 'nowhere']);
    const maps = new Map<string, ConfigMapData | undefined>([
      ['code-zip', { binaryData: { 'code.zip': 'UEsDBA==' } }],
      ['layers', { binaryData: { 'one.zip': 'UEsFBg==' } }],
      ['nowhere', undefined],
    ]);
    expect(buildSpecialization(f, 'pkg', maps).archives).toEqual([
      { into: 'task', zipBase64: 'UEsDBA==', sha256: SHA },
      { into: 'opt', zipBase64: 'UEsFBg==' },
    ]);
  });

  it.each([
    { name: 'a ConfigMap not found', maps: new Map<string, ConfigMapData | undefined>([['code-zip', undefined]]), message: /ConfigMap code-zip not found/ },
    { name: 'a key not there', maps: new Map<string, ConfigMapData | undefined>([['code-zip', { binaryData: {} }]]), message: /has no key code.zip/ },
  ])('a required package missing ($name): refused', ({ maps, message }) => {
    const f = fn('pkg', { code: { package: { configMap: { name: 'code-zip', key: 'code.zip' } } } });
    expect(() => buildSpecialization(f, 'pkg', maps)).toThrow(message);
  });
});
