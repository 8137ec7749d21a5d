// Which functions a warm pool may serve: everything Kubernetes fixes when a
// pod starts (image, ServiceAccount, memory limit, /tmp size, values from
// Secrets) must fit the pool's pods, or the function starts a pod of its own.
import { describe, expect, it } from 'vitest';
import { FunctionSpecSchema, type FunctionSpecInput } from '../../src/api/function.js';
import { poolFor, poolRuntimeOf, type PoolView } from '../../src/pools/eligibility.js';

const python = (over: Partial<FunctionSpecInput> = {}) =>
  FunctionSpecSchema.parse({ runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(e, c):\n    return 1\n' } }, ...over });

const pool = (name: string, runtime: 'python' | 'nodejs', memoryMB = 128, ephemeralStorageMB = 512): PoolView => ({ name, runtime, memoryMB, ephemeralStorageMB });
const DEFAULT_POOLS = [pool('python', 'python'), pool('nodejs', 'nodejs')];
const SHA = 'a'.repeat(64);

describe('poolRuntimeOf', () => {
  it.each([
    ['python3.11', 'python'],
    ['python3.12', 'python'],
    ['python3.13', 'python'],
    ['nodejs20', 'nodejs'],
    ['nodejs22', 'nodejs'],
    ['go', undefined],
    ['provided', undefined],
  ])('%s → %s', (runtime, family) => {
    expect(poolRuntimeOf(runtime)).toBe(family);
  });
});

describe('poolFor', () => {
  it.each([
    { case: 'inline python code', spec: python(), pools: DEFAULT_POOLS, want: 'python' },
    { case: 'nodejs with code from a ConfigMap', spec: python({ runtime: 'nodejs22', handler: 'index.handler', code: { configMap: { name: 'src' } } }), pools: DEFAULT_POOLS, want: 'nodejs' },
    { case: 'a ZIP package by URL, with layers', spec: python({ code: { package: { url: 'https://example.com/f.zip', sha256: SHA } }, layers: [{ configMap: { name: 'l', key: 'zip' } }] }), pools: DEFAULT_POOLS, want: 'python' },
    { case: 'literal env values (the agent hands them over)', spec: python({ env: [{ name: 'STAGE', value: 'prod' }] }), pools: DEFAULT_POOLS, want: 'python' },
    { case: 'less /tmp than the pool has', spec: python(), pools: [pool('big', 'python', 128, 2048)], want: 'big' },
    { case: 'of two fitting pools the first by name, whatever their order', spec: python(), pools: [pool('zeta', 'python'), pool('alpha', 'python')], want: 'alpha' },
    { case: 'the pool with its memoryMB among several', spec: python({ memoryMB: 512 }), pools: [pool('small', 'python', 128), pool('large', 'python', 512)], want: 'large' },
    { case: 'the first by name whose /tmp is enough', spec: python({ ephemeralStorageMB: 1024 }), pools: [pool('a', 'python', 128, 512), pool('b', 'python', 128, 1024), pool('c', 'python', 128, 4096)], want: 'b' },
  ])('serves $case from pool $want', ({ spec, pools, want }) => {
    const m = poolFor(spec, pools);
    expect(m).toEqual({ ok: true, pool: pools.find((p) => p.name === want) });
  });

  it.each([
    { case: 'go', spec: python({ runtime: 'go', handler: undefined, code: { package: { url: 'https://example.com/f.zip', sha256: SHA } } }), refusal: 'runtime', says: 'runtime go' },
    { case: 'provided', spec: python({ runtime: 'provided', handler: undefined, code: { package: { url: 'https://example.com/f.zip', sha256: SHA } } }), refusal: 'runtime', says: 'runtime provided' },
    { case: 'its own image', spec: python({ code: { image: 'registry.example.com/fn:1' } }), refusal: 'image', says: 'own image' },
    { case: 'its own role', spec: python({ serviceAccountName: 'reader' }), refusal: 'role', says: 'ServiceAccount reader' },
    { case: 'a variable from a Secret', spec: python({ env: [{ name: 'A', value: 'x' }, { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }), refusal: 'env-from', says: 'variable TOKEN' },
    { case: 'a variable from a ConfigMap', spec: python({ env: [{ name: 'CONF', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } }] }), refusal: 'env-from', says: 'variable CONF' },
    { case: 'its own LD_LIBRARY_PATH', spec: python({ env: [{ name: 'LD_LIBRARY_PATH', value: '/var/task/native' }] }), refusal: 'loader-path', says: 'LD_LIBRARY_PATH' },
    { case: 'a memoryMB no pool has (a running container\'s limit cannot change)', spec: python({ memoryMB: 256 }), refusal: 'memory', says: 'memoryMB 256' },
    { case: 'more /tmp than any pool of its memory has', spec: python({ ephemeralStorageMB: 1024 }), refusal: 'storage', says: '1024 MB of /tmp' },
  ])('refuses $case: $refusal', ({ spec, refusal, says }) => {
    const m = poolFor(spec, DEFAULT_POOLS);
    expect(m).toMatchObject({ ok: false, refusal });
    expect(m.ok ? '' : m.message).toContain(says);
  });

  it.each([
    { case: 'no pools at all', pools: [] },
    { case: 'only pools of the other family', pools: [pool('nodejs', 'nodejs')] },
  ])('refuses with no-pool when there are $case', ({ pools }) => {
    expect(poolFor(python(), pools)).toMatchObject({ ok: false, refusal: 'no-pool' });
  });

  it('gives the first reason in its order: what the function itself brings, then the pools\' memory, then /tmp', () => {
    expect(poolFor(python({ serviceAccountName: 'reader', memoryMB: 256 }), DEFAULT_POOLS)).toMatchObject({ ok: false, refusal: 'role' });
    expect(poolFor(python({ memoryMB: 256, ephemeralStorageMB: 1024 }), DEFAULT_POOLS)).toMatchObject({ ok: false, refusal: 'memory' });
  });

  it('never serves a function from a pool whose memory differs, even a larger one', () => {
    expect(poolFor(python({ memoryMB: 128 }), [pool('big', 'python', 1024)])).toMatchObject({ ok: false, refusal: 'memory' });
  });
});
