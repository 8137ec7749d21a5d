import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
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
});
