// The pure part of a version's ConfigMap copies: which references there are,
// what each copy keeps, the digest of the bytes and the rewritten snapshot.
import { describe, expect, it } from 'vitest';
import { FunctionSpecSchema, type FunctionSpecInput } from '../../src/api/function.js';
import { configMapRefs, copiedContent, publishedDigest, referencedBytes, withCopies, type ConfigMapContent, type ConfigMapRef } from '../../src/store/configmap-copies.js';
import { KubeApiError } from '../../src/kube/rest.js';
import { StoreError } from '../../src/store/function-store.js';
import { storeErrorOf } from '../../src/store/kube-errors.js';

const spec = (s: Partial<FunctionSpecInput>) => FunctionSpecSchema.parse({ runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'x' } }, ...s });

describe('configMapRefs', () => {
  it.each([
    { name: 'inline code: none', s: spec({}), expected: [] },
    { name: 'code from a ConfigMap: every key', s: spec({ code: { configMap: { name: 'src' } } }), expected: [{ path: 'spec.code.configMap.name', name: 'src', optional: false, suffix: 'code' }] },
    {
      name: 'a package and two layers, one of them from a URL',
      s: spec({
        code: { package: { configMap: { name: 'pkg', key: 'app.zip' } } },
        layers: [{ url: 'https://example.test/l.zip', sha256: 'a'.repeat(64) }, { configMap: { name: 'libs', key: 'l.zip', optional: true } }],
      }),
      expected: [
        { path: 'spec.code.package.configMap.name', name: 'pkg', key: 'app.zip', optional: false, suffix: 'package' },
        { path: 'spec.layers[1].configMap.name', name: 'libs', key: 'l.zip', optional: true, suffix: 'layer-1' },
      ],
    },
  ])('$name', ({ s, expected }) => {
    expect(configMapRefs(s)).toEqual(expected);
  });
});

describe('copiedContent', () => {
  const code: ConfigMapRef = { path: 'spec.code.configMap.name', name: 'src', optional: false, suffix: 'code' };
  const pkg: ConfigMapRef = { path: 'spec.code.package.configMap.name', name: 'pkg', key: 'app.zip', optional: false, suffix: 'package' };
  const optLayer: ConfigMapRef = { ...pkg, optional: true, suffix: 'layer-0', path: 'spec.layers[0].configMap.name' };
  it.each<{ name: string; ref: ConfigMapRef; cm: ConfigMapContent | undefined; expected: object }>([
    { name: 'code keeps every key, text and binary', ref: code, cm: { data: { 'app.py': 'x' }, binaryData: { 'b.bin': 'AA==' } }, expected: { content: { data: { 'app.py': 'x' }, binaryData: { 'b.bin': 'AA==' } } } },
    { name: 'a package keeps its one key only', ref: pkg, cm: { binaryData: { 'app.zip': 'UEs=', 'other.zip': 'UEs=' } }, expected: { content: { binaryData: { 'app.zip': 'UEs=' } } } },
    { name: 'a package key under data', ref: pkg, cm: { data: { 'app.zip': 'text' } }, expected: { content: { data: { 'app.zip': 'text' } } } },
    { name: 'missing code is a problem', ref: code, cm: undefined, expected: { problem: { path: 'spec.code.configMap.name', message: 'ConfigMap src does not exist' } } },
    { name: 'a missing key is a problem at .key', ref: pkg, cm: { data: {} }, expected: { problem: { path: 'spec.code.package.configMap.key', message: 'ConfigMap pkg has no key app.zip' } } },
    { name: 'an optional layer that is missing: nothing to copy', ref: optLayer, cm: undefined, expected: {} },
    { name: 'an optional layer without its key: nothing to copy', ref: optLayer, cm: { data: { x: 'y' } }, expected: {} },
  ])('$name', ({ ref, cm, expected }) => {
    expect(copiedContent(ref, cm)).toEqual(expected);
  });
});

describe('referencedBytes', () => {
  const refs: ConfigMapRef[] = [{ path: 'p', name: 'src', optional: false, suffix: 'code' }];
  it('changes with the content, not with the order keys came in', () => {
    const a = referencedBytes(refs, [{ data: { a: '1', b: '2' } }]);
    expect(referencedBytes(refs, [{ data: { b: '2', a: '1' } }])).toBe(a);
    expect(referencedBytes(refs, [{ data: { a: '1', b: '3' } }])).not.toBe(a);
    expect(referencedBytes(refs, [{ binaryData: { a: '1', b: '2' } }])).not.toBe(a);
    expect(referencedBytes(refs, [undefined])).not.toBe(a);
  });
});

describe('withCopies', () => {
  it('names the copies instead of the originals and leaves the rest', () => {
    const s = spec({ code: { package: { configMap: { name: 'pkg', key: 'app.zip' } } }, layers: [{ url: 'https://example.test/l.zip', sha256: 'a'.repeat(64) }, { configMap: { name: 'libs', key: 'l.zip' } }] });
    const out = withCopies(s, 'fn-v3');
    expect(out.code.package?.configMap).toEqual({ name: 'fn-v3-package', key: 'app.zip' });
    expect(out.layers?.[0]).toEqual(s.layers?.[0]);
    expect(out.layers?.[1]?.configMap).toEqual({ name: 'fn-v3-layer-1', key: 'l.zip' });
    expect(s.code.package?.configMap?.name).toBe('pkg');
    expect(withCopies(spec({ code: { configMap: { name: 'src' } } }), 'fn-v1').code.configMap).toEqual({ name: 'fn-v1-code' });
  });
});

describe('storeErrorOf', () => {
  const kube = (code: number, status?: object) => new KubeApiError(code, 'PATCH', '/x', status);
  it.each([
    { code: 404, kind: 'not-found', problems: [] },
    { code: 409, kind: 'conflict', problems: [] },
    { code: 422, kind: 'invalid', status: { message: 'bad', details: { causes: [{ field: 'spec.aliases[0].version', message: 'must be a published version number or $LATEST' }] } }, problems: [{ path: 'spec.aliases[0].version', message: 'must be a published version number or $LATEST' }] },
    { code: 400, kind: 'invalid', problems: [] },
  ])('HTTP $code is $kind', ({ code, kind, status, problems }) => {
    const e = storeErrorOf(kube(code, status), 'function f');
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).kind).toBe(kind);
    expect((e as StoreError).problems).toEqual(problems);
  });
  it.each([403, 500, 503])('HTTP %i is passed on as it is', (code) => {
    const e = kube(code);
    expect(storeErrorOf(e, 'function f')).toBe(e);
  });
  it('passes on what is not the API server\'s answer', () => {
    const e = new Error('ECONNREFUSED');
    expect(storeErrorOf(e, 'function f')).toBe(e);
  });
});

describe('publishedDigest', () => {
  it('is the snapshot digest with the bytes it names, and says what each copy holds', () => {
    const s = spec({ code: { configMap: { name: 'src' } } });
    const one = publishedDigest(s, [{ data: { 'app.py': 'one' } }]);
    expect(one.problems).toEqual([]);
    expect(one.copies).toEqual([{ data: { 'app.py': 'one' } }]);
    expect(one.digest).toMatch(/^[a-f0-9]{64}$/);
    expect(publishedDigest(s, [{ data: { 'app.py': 'one' } }]).digest).toBe(one.digest);
    expect(publishedDigest(s, [{ data: { 'app.py': 'two' } }]).digest).not.toBe(one.digest);
    expect(publishedDigest(s, [undefined]).problems).toEqual([{ path: 'spec.code.configMap.name', message: 'ConfigMap src does not exist' }]);
  });
});
