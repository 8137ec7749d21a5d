import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { ObjectStore } from '../../src/api/object-store.js';
import { waitFor } from '../helpers/wait.js';
import { loadFunctionDir, SOURCE_ANNOTATION, watchFunctionDir, type FunctionDirWatcher } from '../../src/platform/function-files.js';

const fnYaml = (name: string, memory = 128) =>
  `apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: ${name}}\nspec: {runtime: python3.12, handler: a.b, memoryMB: ${memory}, code: {inline: {a.py: x}}}\n`;

const until = (cond: () => boolean) => waitFor('the catalog to follow the files', cond, 5000);

describe('function directory', () => {
  let watcher: FunctionDirWatcher | undefined;
  afterEach(async () => {
    await watcher?.close();
    watcher = undefined;
  });

  it('loads the examples', async () => {
    const report = await loadFunctionDir('examples');
    expect(report.problems).toEqual([]);
    expect(report.functions.map((f) => f.metadata.name).sort()).toEqual(['hello-go', 'hello-node', 'hello-python']);
    expect(report.functions[0]?.metadata.annotations?.[SOURCE_ANNOTATION]).toMatch(/examples\/hello-go\.yaml$/);
  });

  it('reports invalid documents and duplicate names, keeping the valid ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-fns-'));
    writeFileSync(join(dir, 'a.yaml'), `${fnYaml('one')}---\n${fnYaml('two', 64)}`);
    writeFileSync(join(dir, 'b.yml'), fnYaml('one'));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const report = await loadFunctionDir(dir);
    expect(report.functions.map((f) => f.metadata.name)).toEqual(['one']);
    expect(report.problems.map((p) => [p.name, p.problems[0]?.path])).toEqual([
      ['two', 'spec.memoryMB'],
      ['one', 'metadata.name'],
    ]);
  });

  it('reads ConfigMaps and Secrets beside the Functions, naming the file of a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-fns-'));
    const cm = (name: string, data: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata: ${data}\n`;
    writeFileSync(join(dir, 'a.yaml'), `${fnYaml('one')}---\n${cm('settings', '{a: b}')}---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {k: v}\n`);
    writeFileSync(join(dir, 'b.yaml'), `${cm('settings', '{c: d}')}---\napiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ndata: {k: "not base64"}\n`);
    const report = await loadFunctionDir(dir);
    expect(report.functions.map((f) => f.metadata.name)).toEqual(['one']);
    expect(report.objects.map((o) => `${o.kind}/${o.name}`)).toEqual(['ConfigMap/settings', 'Secret/creds']);
    expect(report.problems).toEqual([
      { file: join(dir, 'b.yaml'), index: 0, kind: 'ConfigMap', name: 'settings', problems: [{ path: 'metadata.name', message: `is already defined in ${join(dir, 'a.yaml')}` }] },
      { file: join(dir, 'b.yaml'), index: 1, kind: 'Secret', name: 'bad', problems: [{ path: 'data.k', message: 'must be base64' }] },
    ]);
  });

  it('leaves out a Function the platform refuses, with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-fns-'));
    writeFileSync(join(dir, 'a.yaml'), `${fnYaml('one')}---\n${fnYaml('two')}`);
    const report = await loadFunctionDir(dir, { refuse: (fn) => (fn.metadata.name === 'two' ? [{ path: 'spec.x', message: 'not here' }] : []) });
    expect(report.functions.map((f) => f.metadata.name)).toEqual(['one']);
    expect(report.problems).toEqual([{ file: join(dir, 'a.yaml'), index: 1, kind: 'Function', name: 'two', problems: [{ path: 'spec.x', message: 'not here' }] }]);
  });

  it('follows files being added, changed and removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-fns-'));
    writeFileSync(join(dir, 'a.yaml'), fnYaml('alpha'));
    const catalog = new MemoryCatalog();
    const changes: string[] = [];
    catalog.onChange((n) => changes.push(n));
    watcher = await watchFunctionDir(dir, catalog, pino({ level: 'silent' }));
    expect(catalog.get('alpha')).toBeDefined();

    writeFileSync(join(dir, 'b.yaml'), fnYaml('beta'));
    await until(() => catalog.get('beta') !== undefined);

    writeFileSync(join(dir, 'a.yaml'), fnYaml('alpha', 256));
    await until(() => catalog.get('alpha')?.spec.memoryMB === 256);

    rmSync(join(dir, 'b.yaml'));
    await until(() => catalog.get('beta') === undefined);
    expect(changes).toEqual(['alpha', 'beta', 'alpha', 'beta']);
  });

  it('sets a Function again when a ConfigMap it refers to changes, and only then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-fns-'));
    const user = `apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: user}\nspec: {runtime: python3.12, handler: a.b, code: {inline: {a.py: x}}, env: [{name: A, valueFrom: {configMapKeyRef: {name: settings, key: a}}}]}\n`;
    const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: "${value}"}\n`;
    writeFileSync(join(dir, 'user.yaml'), user);
    writeFileSync(join(dir, 'other.yaml'), fnYaml('other'));
    writeFileSync(join(dir, 'settings.yaml'), cm('1'));
    const catalog = new MemoryCatalog();
    const objects = new ObjectStore('the test directory');
    watcher = await watchFunctionDir(dir, catalog, pino({ level: 'silent' }), { objects });
    expect(objects.lookup('ConfigMap', 'settings', 'a')).toMatchObject({ ok: true, value: { text: '1' } });
    const changes: string[] = [];
    catalog.onChange((n) => changes.push(n));
    writeFileSync(join(dir, 'settings.yaml'), cm('2'));
    await until(() => changes.length > 0);
    expect(changes).toEqual(['user']);
    expect(objects.lookup('ConfigMap', 'settings', 'a')).toMatchObject({ ok: true, value: { text: '2' } });
    rmSync(join(dir, 'settings.yaml'));
    await until(() => changes.length > 1);
    expect(changes).toEqual(['user', 'user']);
    expect(objects.lookup('ConfigMap', 'settings', 'a')).toEqual({ ok: false, reason: 'there is no ConfigMap settings in the test directory' });
  });
});
