import { describe, expect, it } from 'vitest';
import { executionEnv, lambdaEnv, logStreamName, poolEnv, resolveFunctionEnv, runtimePath } from './lambda-env.js';
import { codeHash } from './code-store.js';
import { runtimeFamily } from './runtime-command.js';

describe('local environment', () => {
  it('puts Lambda\'s variables over the function\'s', () => {
    const env = lambdaEnv({
      functionName: 'f', runtime: 'python3.12', handler: 'm.h', memoryMB: 512, concurrency: 4, taskRoot: '/t', runtimeDir: '/r',
      region: 'local', path: '/bin', functionEnv: { MINE: '1', AWS_REGION: 'sneaky' },
    });
    expect(env).toMatchObject({ MINE: '1', AWS_REGION: 'local', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512', AWS_LAMBDA_MAX_CONCURRENCY: '4', AWS_EXECUTION_ENV: 'AWS_Lambda_python3.12', _HANDLER: 'm.h' });
    expect(executionEnv('go')).toBeUndefined();
    expect(executionEnv('nodejs22')).toBe('AWS_Lambda_nodejs22.x');
    expect(poolEnv('/bin', '/r')).toEqual({ PATH: '/bin', LANG: 'en_US.UTF-8', TZ: ':UTC', LAMBDA_RUNTIME_DIR: '/r', HEARTH_SPECIALIZE: 'stdin' });
    expect(runtimePath('/usr/bin')).toBe('/usr/bin:/usr/local/bin:/bin');
    expect(logStreamName(new Date('2025-03-04T05:06:07Z'), 'ab')).toBe('2025/03/04/[$LATEST]ab');
  });

  it('resolves references from local maps, skips optional misses and names what is missing', () => {
    const refs = { secrets: { s: { k: 'v' } }, configMaps: { c: { k: 'w' } } };
    expect(
      resolveFunctionEnv('f', [
        { name: 'A', value: 'x' },
        { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        { name: 'C', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } },
        { name: 'D', valueFrom: { configMapKeyRef: { name: 'c', key: 'none', optional: true } } },
      ], refs),
    ).toEqual({ A: 'x', B: 'v', C: 'w' });
    expect(() => resolveFunctionEnv('f', [{ name: 'E', valueFrom: { configMapKeyRef: { name: 'x', key: 'y' } } }], refs)).toThrow(/ConfigMap x key y/);
  });

  it('hashes code independent of file order and maps runtimes to families', () => {
    expect(codeHash({ a: '1', b: '2' })).toBe(codeHash({ b: '2', a: '1' }));
    expect(codeHash({ a: '1' })).not.toBe(codeHash({ a: '2' }));
    expect(runtimeFamily('python3.13')).toBe('python');
    expect(runtimeFamily('nodejs22')).toBe('nodejs');
    expect(runtimeFamily('go')).toBe('go');
    expect(runtimeFamily('provided')).toBe('provided');
  });
});
