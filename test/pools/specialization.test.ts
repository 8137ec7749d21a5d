// The gateway → agent specialisation wire form, and instanceSpecHash: a
// claimed pod whose hash is not its unit's current one runs old code or
// configuration and is replaced. So the hash must change with everything a
// claimed pod was given or started with, and with nothing else: a change it
// missed leaves pods serving an old function; a change it caught needlessly
// (the autoscaler writes spec.replicas all the time) would replace every
// claimed pod on each scale.
import { describe, expect, it } from 'vitest';
import { FunctionSpecSchema, type FunctionSpecInput } from '../../src/api/function.js';
import { SPECIALIZE_BODY_LIMIT, SPECIALIZE_PATH, SpecializationSchema, instanceSpecHash } from '../../src/pools/specialization.js';

const SHA = 'b'.repeat(64);
const BASE: FunctionSpecInput = {
  runtime: 'python3.12',
  handler: 'app.handler',
  code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } },
  env: [{ name: 'STAGE', value: 'prod' }],
};
const spec = (over: Partial<FunctionSpecInput> = {}) => FunctionSpecSchema.parse({ ...BASE, ...over });
const hashOf = (over: Partial<FunctionSpecInput> = {}) => instanceSpecHash(spec(over));

describe('instanceSpecHash', () => {
  it('is 16 hex digits, the same for the same spec', () => {
    expect(hashOf()).toMatch(/^[0-9a-f]{16}$/);
    expect(hashOf()).toBe(hashOf());
  });

  it.each<{ field: string; over: Partial<FunctionSpecInput> }>([
    { field: 'runtime', over: { runtime: 'python3.13' } },
    { field: 'handler', over: { handler: 'app.other' } },
    { field: 'inline code', over: { code: { inline: { 'app.py': 'def handler(e, c):\n    return 2\n' } } } },
    { field: 'another inline file', over: { code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n', 'util.py': '' } } } },
    { field: 'the code source (a ConfigMap)', over: { code: { configMap: { name: 'src' } } } },
    { field: 'the code package', over: { code: { package: { url: 'https://example.com/f.zip', sha256: SHA } } } },
    { field: 'layers', over: { layers: [{ url: 'https://example.com/l.zip', sha256: SHA }] } },
    { field: 'an env value', over: { env: [{ name: 'STAGE', value: 'dev' }] } },
    { field: 'an added env variable', over: { env: [{ name: 'STAGE', value: 'prod' }, { name: 'DEBUG', value: '1' }] } },
    { field: 'no env at all', over: { env: undefined } },
    { field: 'memoryMB', over: { memoryMB: 256 } },
    { field: 'timeoutSeconds', over: { timeoutSeconds: 30 } },
    { field: 'concurrency', over: { concurrency: 4 } },
    { field: 'ephemeralStorageMB', over: { ephemeralStorageMB: 1024 } },
    // A pod's ServiceAccount cannot change: a function given a role of its own must leave the pool pods it was claimed into.
    { field: 'serviceAccountName', over: { serviceAccountName: 'reader' } },
  ])('changes with $field', ({ over }) => {
    expect(hashOf(over)).not.toBe(hashOf());
  });

  it.each<{ field: string; over: Partial<FunctionSpecInput> }>([
    { field: 'replicas (the autoscaler writes it through the scale subresource)', over: { replicas: 7 } },
    { field: 'scaling', over: { scaling: { minInstances: 2, maxInstances: 50, targetConcurrency: 3 } } },
    { field: 'reservedConcurrency', over: { reservedConcurrency: 10 } },
    { field: 'async', over: { async: { maxRetries: 0 } } },
    { field: 'schedules', over: { schedules: [{ name: 'nightly', cron: '0 3 * * *' }] } },
    { field: 'aliases', over: { aliases: [{ name: 'live', version: '1' }] } },
    { field: 'versioning', over: { versioning: { publishOnChange: true } } },
    { field: 'description', over: { description: 'says hello' } },
    { field: 'tags', over: { tags: { team: 'web' } } },
    { field: 'defaults written out', over: { memoryMB: 128, timeoutSeconds: 3, concurrency: 1, ephemeralStorageMB: 512 } },
  ])('does not change with $field', ({ over }) => {
    expect(hashOf(over)).toBe(hashOf());
  });

  it('does not depend on the order of keys (the API server gives an object back with its keys in another order)', () => {
    const s = spec({ code: { package: { url: 'https://example.com/f.zip', sha256: SHA } }, layers: [{ url: 'https://example.com/l.zip', sha256: SHA }] });
    const reversed = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reversed) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)])) : v;
    const back = reversed(s) as typeof s;
    expect(JSON.stringify(back)).not.toBe(JSON.stringify(s));
    expect(instanceSpecHash(back)).toBe(instanceSpecHash(s));
  });
});

describe('SpecializationSchema', () => {
  const body = {
    unit: 'hello:2',
    functionName: 'hello',
    version: '2',
    memoryMB: 128,
    timeoutSeconds: 3,
    concurrency: 1,
    env: { _HANDLER: 'app.handler', STAGE: 'prod' },
  };

  it('is posted to the agent beside the Lambda API paths, bounded by Lambda\'s unzipped limit plus base64', () => {
    expect(SPECIALIZE_PATH).toBe('/2018-06-01/hearth/specialize');
    expect(SPECIALIZE_BODY_LIMIT).toBeGreaterThanOrEqual(Math.ceil((250 * 1024 * 1024 * 4) / 3));
  });

  it.each([
    { case: 'configuration alone (files and archives are optional members)', extra: {} },
    { case: 'inline files', extra: { files: { 'app.py': Buffer.from('x').toString('base64') } } },
    { case: 'a package by URL and a layer from a ConfigMap', extra: { archives: [{ into: 'task', url: 'https://example.com/f.zip', sha256: SHA }, { into: 'opt', zipBase64: 'UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==', sha256: SHA }] } },
  ])('accepts $case', ({ extra }) => {
    expect(SpecializationSchema.safeParse({ ...body, ...extra }).success).toBe(true);
  });

  it.each([
    { case: 'an unknown member (strict: a pod never acts on what it does not understand)', bad: { ...body, role: 'admin' } },
    { case: 'an env value that is not a string (only literal values reach a pool pod)', bad: { ...body, env: { TOKEN: { secretKeyRef: { name: 's', key: 'k' } } } } },
    { case: 'an archive going elsewhere than task or opt', bad: { ...body, archives: [{ into: 'etc', url: 'https://example.com/f.zip', sha256: SHA }] } },
    { case: 'an archive URL that is not a URL', bad: { ...body, archives: [{ into: 'task', url: 'f.zip', sha256: SHA }] } },
    { case: 'a sha256 that is not 64 lowercase hex digits', bad: { ...body, archives: [{ into: 'task', url: 'https://example.com/f.zip', sha256: SHA.toUpperCase() }] } },
    { case: 'an empty unit', bad: { ...body, unit: '' } },
    { case: 'memoryMB 0', bad: { ...body, memoryMB: 0 } },
    { case: 'a fractional timeout', bad: { ...body, timeoutSeconds: 2.5 } },
    { case: 'no env', bad: { ...body, env: undefined } },
  ])('refuses $case', ({ bad }) => {
    expect(SpecializationSchema.safeParse(bad).success).toBe(false);
  });
});
