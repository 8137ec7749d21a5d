import { describe, expect, it } from 'vitest';
import { FunctionSpecSchema, environmentBytes, type FunctionSpecInput } from '../../src/api/function.js';
import { validateFunction } from '../../src/api/validate.js';

const base: FunctionSpecInput = { runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(e, c): return 1' } } };

function doc(spec: unknown, name = 'fn') {
  return { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name }, spec };
}

function paths(spec: unknown, name?: string): string[] {
  const r = validateFunction(doc(spec, name));
  return r.ok ? [] : r.problems.map((p) => p.path);
}

describe('Function spec defaults', () => {
  it('fills in Lambda\'s defaults', () => {
    const spec = FunctionSpecSchema.parse(base);
    expect(spec).toMatchObject({
      memoryMB: 128,
      ephemeralStorageMB: 512,
      timeoutSeconds: 3,
      concurrency: 1,
      scaling: { minInstances: 0, maxInstances: 10, targetUtilizationPercent: 70, scaleToZeroGracePeriodSeconds: 30, stableWindowSeconds: 60 },
      async: { maxRetries: 2, maxEventAgeSeconds: 21600, deadLetterQueue: { enabled: true } },
    });
  });
});

describe('Function spec validation names the offending field', () => {
  const cases: { name: string; spec: unknown; metaName?: string; expected: string[] }[] = [
    { name: 'valid', spec: base, expected: [] },
    { name: 'memory too small', spec: { ...base, memoryMB: 64 }, expected: ['spec.memoryMB'] },
    { name: 'memory too large', spec: { ...base, memoryMB: 10241 }, expected: ['spec.memoryMB'] },
    { name: 'ephemeral storage below Lambda\'s 512 MB', spec: { ...base, ephemeralStorageMB: 511 }, expected: ['spec.ephemeralStorageMB'] },
    { name: 'ephemeral storage above Lambda\'s 10240 MB', spec: { ...base, ephemeralStorageMB: 10241 }, expected: ['spec.ephemeralStorageMB'] },
    { name: 'ephemeral storage of 10 GB', spec: { ...base, ephemeralStorageMB: 10240 }, expected: [] },
    { name: 'timeout too long', spec: { ...base, timeoutSeconds: 901 }, expected: ['spec.timeoutSeconds'] },
    { name: 'two code sources', spec: { ...base, code: { inline: { 'a.py': '' }, image: 'x' } }, expected: ['spec.code'] },
    { name: 'no code source', spec: { ...base, code: {} }, expected: ['spec.code'] },
    { name: 'unknown runtime', spec: { ...base, runtime: 'cobol' }, expected: ['spec.runtime'] },
    { name: 'missing handler', spec: { runtime: 'nodejs20', code: base.code }, expected: ['spec.handler'] },
    { name: 'provided without image or package', spec: { runtime: 'provided', code: base.code }, expected: ['spec.code'] },
    { name: 'provided with image', spec: { runtime: 'provided', code: { image: 'r/img:1' } }, expected: [] },
    { name: 'go needs no handler', spec: { runtime: 'go', code: base.code }, expected: [] },
    { name: 'unknown field', spec: { ...base, memroyMB: 256 }, expected: ['spec'] },
    { name: 'retries above Lambda max', spec: { ...base, async: { maxRetries: 3 } }, expected: ['spec.async.maxRetries'] },
    { name: 'event age below minimum', spec: { ...base, async: { maxEventAgeSeconds: 59 } }, expected: ['spec.async.maxEventAgeSeconds'] },
    { name: 'destination with two targets', spec: { ...base, async: { onFailure: { function: 'a', url: 'http://x' } } }, expected: ['spec.async.onFailure'] },
    { name: 'min above max instances', spec: { ...base, scaling: { minInstances: 3, maxInstances: 2 } }, expected: ['spec.scaling.minInstances'] },
    { name: 'reserved env name', spec: { ...base, env: [{ name: 'AWS_REGION', value: 'x' }] }, expected: ['spec.env[0].name'] },
    { name: 'duplicate env names', spec: { ...base, env: [{ name: 'A', value: '1' }, { name: 'A', value: '2' }] }, expected: ['spec.env'] },
    { name: 'env over 4 KB', spec: { ...base, env: [{ name: 'BIG', value: 'x'.repeat(4094) }] }, expected: ['spec.env'] },
    { name: 'env value and valueFrom', spec: { ...base, env: [{ name: 'A', value: '1', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }, expected: ['spec.env[0].valueFrom'] },
    { name: 'bad cron', spec: { ...base, schedules: [{ name: 'tick', cron: 'every day' }] }, expected: ['spec.schedules[0].cron'] },
    { name: 'good cron', spec: { ...base, schedules: [{ name: 'tick', cron: '*/5 * * * *' }] }, expected: [] },
    { name: 'package url without digest', spec: { ...base, code: { package: { url: 'https://example.com/f.zip' } } }, expected: ['spec.code.package.sha256'] },
    { name: 'more than 5 layers', spec: { ...base, layers: Array.from({ length: 6 }, () => ({ path: 'l.zip' })) }, expected: ['spec.layers'] },
    { name: 'bad inline file name', spec: { ...base, code: { inline: { '../x.py': '' } } }, expected: ['spec.code.inline["../x.py"]'] },
    { name: 'bad function name', spec: base, metaName: 'Hello_World', expected: ['metadata.name'] },
  ];
  it.each(cases)('$name', ({ spec, metaName, expected }) => {
    expect(paths(spec, metaName)).toEqual(expected);
  });

  it('reports every problem at once', () => {
    expect(paths({ ...base, memoryMB: 64, timeoutSeconds: 901, runtime: 'cobol' }).sort()).toEqual(['spec.memoryMB', 'spec.runtime', 'spec.timeoutSeconds']);
  });

  it('counts environment size as Lambda does', () => {
    expect(environmentBytes([{ name: 'AB', value: 'cd' }, { name: 'E' }])).toBe(5);
  });
});

describe('YAML guards', () => {
  it('refuses absurd nesting and size before parsing, with a clear problem', async () => {
    const { validateYaml, flowNesting, MAX_YAML_BYTES } = await import('../../src/api/validate.js');
    expect(flowNesting('a: [1, {b: [2]}]')).toBe(3);
    const deep = validateYaml(`spec: ${'['.repeat(5000)}`);
    expect(deep[0]?.result.ok).toBe(false);
    expect(JSON.stringify(deep)).toContain('nests [ or { more than');
    const huge = validateYaml(`a: "${'x'.repeat(MAX_YAML_BYTES)}"`);
    expect(JSON.stringify(huge)).toContain('is larger than');
  });
});
