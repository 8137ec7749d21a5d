// ConfigMap and Secret manifests as the embedded platform reads them, the
// references of a Function to them, and the store references resolve through.
import { describe, expect, it } from 'vitest';
import { referencedObjects, validateConfigObject, type ConfigObject } from '../../src/api/config-objects.js';
import { FunctionSchema } from '../../src/api/function.js';
import { validateManifests } from '../../src/api/manifests.js';
import { ObjectStore } from '../../src/api/object-store.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const cm = (rest: object, name = 'cm') => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, ...rest });
const secret = (rest: object, name = 'sec') => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, ...rest });

function valid(doc: unknown): ConfigObject {
  const r = validateConfigObject(doc);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.value;
}

const texts = (o: ConfigObject) => Object.fromEntries([...o.values].map(([k, v]) => [k, v.text ?? `bytes:${v.bytes.toString('hex')}`]));

describe('ConfigMap and Secret manifests', () => {
  it.each([
    ['ConfigMap data', cm({ data: { a: 'x', 'b.txt': 'y' } }), { a: 'x', 'b.txt': 'y' }],
    ['ConfigMap binaryData (line breaks in base64 allowed)', cm({ binaryData: { z: 'AAH/\n' } }), { z: 'bytes:0001ff' }],
    ['Secret data', secret({ type: 'Opaque', data: { token: b64('t0k') } }), { token: 't0k' }],
    ['Secret stringData written over data', secret({ data: { a: b64('old'), b: b64('kept') }, stringData: { a: 'new' } }), { a: 'new', b: 'kept' }],
    ['an empty ConfigMap, with labels and a namespace', cm({ metadata: { name: 'e.x-1', namespace: 'team', labels: { a: 'b' } } }), {}],
  ])('reads %s', (_what, doc, want) => {
    expect(texts(valid(doc))).toEqual(want);
  });

  it.each([
    ['a wrong apiVersion', cm({ apiVersion: 'v2' }), 'apiVersion', 'must be one of "v1"'],
    ['bad base64 in binaryData', cm({ binaryData: { z: 'not base64!' } }), 'binaryData.z', 'must be base64'],
    ['bad base64 in a Secret', secret({ data: { z: 'abc' } }), 'data.z', 'must be base64'],
    ['a key with a slash', cm({ data: { 'a/b': 'x' } }), 'data["a/b"]', 'keys may hold only letters, digits, -, _ and .'],
    ['a key starting with ..', cm({ data: { '..a': 'x' } }), 'data["..a"]', 'a key may not be . or start with ..'],
    ['a key in data and binaryData', cm({ data: { k: 'x' }, binaryData: { k: 'AA==' } }), 'binaryData.k', 'is also a key of data; a key may be in only one of them'],
    ['an upper-case name', cm({ metadata: { name: 'Settings' } }), 'metadata.name', 'must be a lowercase DNS subdomain (a-z, 0-9, - and .)'],
    ['an unknown field', secret({ stringdata: { a: 'b' } }), '', 'has unknown field(s) stringdata'],
    ['a number as a data value', cm({ data: { port: 8080 } }), 'data.port', 'must be of type string'],
    ['more than 1 MiB', cm({ data: { big: 'x'.repeat(1024 * 1024) } }), 'data', 'holds 1048579 bytes; Kubernetes allows at most 1048576 bytes in a ConfigMap'],
  ])('refuses %s, naming the field', (_what, doc, path, message) => {
    const r = validateConfigObject(doc);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems).toContainEqual({ path, message });
  });

  it('tells the documents of a file apart by kind', () => {
    const fn = { apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name: 'f' }, spec: { runtime: 'python3.12', handler: 'a.b', code: { inline: { 'a.py': 'x' } } } };
    const text = [fn, cm({ data: { a: 'b' } }), secret({ data: { a: '!' } }), { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } }]
      .map((d) => JSON.stringify(d))
      .join('\n---\n');
    expect(validateManifests(text).map((d) => [d.index, d.kind, d.name, d.ok])).toEqual([
      [0, 'Function', 'f', true],
      [1, 'ConfigMap', 'cm', true],
      [2, 'Secret', 'sec', false],
      [3, 'Function', 'd', false],
    ]);
  });
});

describe('references and the object store', () => {
  const fn = FunctionSchema.parse({
    apiVersion: 'hearth.dev/v1alpha1',
    kind: 'Function',
    metadata: { name: 'f' },
    spec: {
      runtime: 'python3.12',
      handler: 'a.b',
      code: { package: { configMap: { name: 'pkgs', key: 'fn.zip' } } },
      env: [
        { name: 'A', valueFrom: { configMapKeyRef: { name: 'settings', key: 'a' } } },
        { name: 'B', valueFrom: { secretKeyRef: { name: 'settings', key: 'b' } } },
        { name: 'C', valueFrom: { configMapKeyRef: { name: 'settings', key: 'c' } } },
        { name: 'D', value: 'plain' },
      ],
      layers: [{ configMap: { name: 'pkgs', key: 'layer.zip' } }, { path: 'l.zip' }],
    },
  });

  it('lists each ConfigMap and Secret a Function refers to once', () => {
    expect(referencedObjects(fn.spec)).toEqual([
      { kind: 'ConfigMap', name: 'settings' },
      { kind: 'Secret', name: 'settings' },
      { kind: 'ConfigMap', name: 'pkgs' },
    ]);
  });

  it('reports which objects changed, and a digest that follows only the referenced ones', () => {
    const store = new ObjectStore('the functions directory /d');
    const refs = referencedObjects(fn.spec);
    const empty = store.digest(refs);
    expect(store.replace([valid(cm({ data: { a: '1' } }, 'settings')), valid(cm({}, 'other'))]).sort()).toEqual(['ConfigMap/other', 'ConfigMap/settings']);
    const one = store.digest(refs);
    expect(one).not.toBe(empty);
    expect(store.replace([valid(cm({ data: { a: '1' } }, 'settings')), valid(cm({ data: { z: '2' } }, 'other'))])).toEqual(['ConfigMap/other']);
    expect(store.digest(refs)).toBe(one);
    expect(store.replace([valid(cm({ data: { a: '2' } }, 'settings'))]).sort()).toEqual(['ConfigMap/other', 'ConfigMap/settings']);
    expect(store.digest(refs)).not.toBe(one);
  });

  it('names the object and key that are missing', () => {
    const store = new ObjectStore('the functions directory /d');
    store.replace([valid(cm({ data: { a: '1' }, binaryData: { z: 'AA==' } }, 'settings'))]);
    expect(store.lookup('ConfigMap', 'settings', 'a')).toMatchObject({ ok: true, value: { text: '1' } });
    expect(store.lookup('ConfigMap', 'settings', 'b')).toEqual({ ok: false, reason: 'ConfigMap settings has no key b (its keys: a, z)' });
    expect(store.lookup('Secret', 'settings', 'a')).toEqual({ ok: false, reason: 'there is no Secret settings in the functions directory /d' });
    expect(store.entries('ConfigMap', 'nope')).toBe('there is no ConfigMap nope in the functions directory /d');
  });
});
