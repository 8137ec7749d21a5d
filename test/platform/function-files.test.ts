import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import { ObjectStore } from '../../src/api/object-store.js';
import { waitFor } from '../helpers/wait.js';
import { loadFunctionDir, readAsSettled, SOURCE_ANNOTATION, watchFunctionDir, type FunctionDirWatcher } from '../../src/platform/function-files.js';
import { capturedLogger } from '../helpers/log-capture.js';

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

  describe('a file being written keeps what it last defined cleanly', () => {
    const clean = fnYaml('one', 256);
    it.each([
      { what: 'a clean text replaces the last good one', text: fnYaml('one', 512), kept: false, memory: 512, problems: 0 },
      { what: 'an empty file (truncated, not yet written)', text: '', kept: true, memory: 256, problems: 0 },
      { what: 'blank lines only', text: '\n  \n', kept: true, memory: 256, problems: 0 },
      { what: 'half a document that does not parse', text: 'apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: one}\nspec: {runtime: pyth', kept: true, memory: 256, problems: 1 },
      { what: 'half a document that parses but is no valid Function yet', text: 'apiVersion: hearth.dev/v1alpha1\nkind: Function\nmetadata: {name: one}\n', kept: true, memory: 256, problems: 1 },
      { what: 'a second document, invalid, beside a changed first one', text: `${fnYaml('one', 512)}---\n${fnYaml('two', 64)}`, kept: true, memory: 256, problems: 1 },
    ])('$what', ({ text, kept, memory, problems }) => {
      const lastGood = new Map([['/d/a.yaml', clean]]);
      const r = readAsSettled('/d/a.yaml', text, lastGood);
      expect(r.kept).toBe(kept);
      expect(r.problems).toHaveLength(problems);
      const fn = r.docs.find((d) => d.ok && 'function' in d);
      expect(fn && 'function' in fn ? fn.function.spec.memoryMB : undefined).toBe(memory);
      expect(lastGood.get('/d/a.yaml')).toBe(kept ? clean : text);
    });

    it('reads a file that never loaded cleanly as it is', () => {
      const lastGood = new Map<string, string>();
      const r = readAsSettled('/d/a.yaml', `${fnYaml('one')}---\n${fnYaml('two', 64)}`, lastGood);
      expect(r.kept).toBe(false);
      expect(r.docs.map((d) => d.ok)).toEqual([true, false]);
      expect(lastGood.size).toBe(0);
    });

    it('through truncate-then-write saves, until the file loads cleanly or goes', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hearth-fns-'));
      const file = join(dir, 'a.yaml');
      writeFileSync(file, fnYaml('alpha'));
      const catalog = new MemoryCatalog();
      const changes: string[] = [];
      catalog.onChange((n) => changes.push(`${n} ${catalog.get(n)?.spec.memoryMB}`));
      const { logger, lines } = capturedLogger('warn');
      watcher = await watchFunctionDir(dir, catalog, logger);
      const keptLines = () => lines.filter((l) => l.includes('is empty or invalid')).length;

      // Truncated: the watcher reloads an empty file.
      closeSync(openSync(file, 'w'));
      await until(() => keptLines() >= 1);
      expect(catalog.get('alpha')?.spec.memoryMB).toBe(128);
      // Half written, then the rest: only the whole counts.
      const next = fnYaml('alpha', 256);
      const fd = openSync(file, 'w');
      writeSync(fd, next.slice(0, next.indexOf('handler')));
      await until(() => keptLines() >= 2);
      expect(catalog.get('alpha')?.spec.memoryMB).toBe(128);
      expect(lines.some((l) => l.includes('not loaded'))).toBe(true);
      writeSync(fd, next.slice(next.indexOf('handler')));
      closeSync(fd);
      await until(() => catalog.get('alpha')?.spec.memoryMB === 256);
      // Set when first loaded, and once more for the whole new text: never for what was kept.
      expect(changes).toEqual(['alpha 128', 'alpha 256']);

      // Removed, the file takes its function with it; a new empty file of the same name brings nothing back.
      rmSync(file);
      await until(() => catalog.get('alpha') === undefined);
      writeFileSync(file, '');
      writeFileSync(join(dir, 'b.yaml'), fnYaml('beta'));
      await until(() => catalog.get('beta') !== undefined);
      expect(catalog.get('alpha')).toBeUndefined();
    });
  });
});
