import { describe, expect, it } from 'vitest';
import { validateConfigObject } from '../../api/config-objects.js';
import { ObjectStore } from '../../api/object-store.js';
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

  it('names the version apart from the function, as Lambda does, in the environment and the log stream', () => {
    const base = { functionName: 'f', runtime: 'nodejs20', handler: 'i.h', memoryMB: 128, concurrency: 1, taskRoot: '/t', runtimeDir: '/r', region: 'local', path: '/bin', functionEnv: {} } as const;
    expect(lambdaEnv(base)).toMatchObject({ AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_LAMBDA_FUNCTION_VERSION: '$LATEST', AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/f' });
    expect(lambdaEnv({ ...base, functionVersion: '3' })).toMatchObject({ AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_LAMBDA_FUNCTION_VERSION: '3', AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/f' });
    expect(logStreamName(new Date('2025-03-04T05:06:07Z'), 'ab', '3')).toBe('2025/03/04/[3]ab');
  });

  it('resolves references through the object store, skips optional misses and names what is missing', () => {
    const objects = new ObjectStore('the functions directory /d');
    const object = (doc: unknown) => {
      const r = validateConfigObject(doc);
      if (!r.ok) throw new Error(JSON.stringify(r.problems));
      return r.value;
    };
    objects.replace([
      object({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { k: Buffer.from('v').toString('base64') } }),
      object({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: 'w' }, binaryData: { b: 'AAE=' } }),
    ]);
    expect(
      resolveFunctionEnv('f', [
        { name: 'A', value: 'x' },
        { name: 'B', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        { name: 'C', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } },
        { name: 'D', valueFrom: { configMapKeyRef: { name: 'c', key: 'none', optional: true } } },
        { name: 'E', valueFrom: { secretKeyRef: { name: 'absent', key: 'k', optional: true } } },
      ], objects),
    ).toEqual({ A: 'x', B: 'v', C: 'w' });
    const missing = (name: string, key: string, kind: 'secretKeyRef' | 'configMapKeyRef' = 'configMapKeyRef') => () =>
      resolveFunctionEnv('f', [{ name: 'E', valueFrom: { [kind]: { name, key } } }], objects);
    expect(missing('x', 'y')).toThrow('function f: env E refers to ConfigMap x key y: there is no ConfigMap x in the functions directory /d');
    expect(missing('c', 'y')).toThrow('function f: env E refers to ConfigMap c key y: ConfigMap c has no key y (its keys: b, k)');
    expect(missing('c', 'b')).toThrow('ConfigMap c key b: it is in binaryData, and env takes only keys of data');
    expect(missing('c', 'k', 'secretKeyRef')).toThrow('refers to Secret c key k: there is no Secret c in the functions directory /d');
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
