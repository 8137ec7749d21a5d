// The embedded platform's FunctionStore against a real functions directory:
// versions under .hearth/versions, package copies, the counter, aliases
// written into the Function's own file, validation with field paths,
// retention, publish on change, and the catalog kept in step with the file
// watcher (no flip-flop).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import type { AliasInput, FunctionSpecInput, HearthFunction } from '../../src/api/function.js';
import { ObjectStore } from '../../src/api/object-store.js';
import { sha256 } from '../../src/packages/digest.js';
import { DirectoryStore, VERSIONS_DIR } from '../../src/store/directory-store.js';
import { StoreError } from '../../src/store/function-store.js';
import { missingVersionProblems, watchFunctionDir, type FunctionDirWatcher } from '../../src/platform/function-files.js';
import { DirectoryUploads } from '../../src/uploads/directory-uploads.js';
import { PackageUploads } from '../../src/uploads/package-uploads.js';
import { directoryStoreOn } from '../helpers/directory-store.js';
import { waitFor } from '../helpers/wait.js';
import { zipBytes } from '../packages/zip-bytes.js';

const dirs: string[] = [];
const watchers: FunctionDirWatcher[] = [];
afterEach(async () => {
  for (const w of watchers.splice(0)) await w.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const py = (code: string, extra: Partial<FunctionSpecInput> = {}): FunctionSpecInput => ({ runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': code } }, ...extra });
const fnYaml = (name: string, spec: FunctionSpecInput) => stringify({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name }, spec });

interface Setup {
  dir: string;
  catalog: MemoryCatalog;
  objects: ObjectStore;
  store: DirectoryStore;
  /** Reads the directory into the catalog as the watcher does. */
  reload(): Promise<void>;
}

async function setup(files: Record<string, string | Buffer>, dir = mkdtempSync(join(tmpdir(), 'hearth-store-'))): Promise<Setup> {
  if (!dirs.includes(dir)) dirs.push(dir);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const { catalog, objects, store, reload: load } = await directoryStoreOn(dir);
  const reload = async (): Promise<void> => {
    expect((await load()).problems).toEqual([]);
  };
  await reload();
  return { dir, catalog, objects, store, reload };
}

function storeError(p: Promise<unknown>): Promise<StoreError> {
  return p.then(
    () => {
      throw new Error('expected a StoreError');
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(StoreError);
      return err as StoreError;
    },
  );
}

describe('publishing', () => {
  it('writes version 1 as a FunctionVersion document, sets the catalog, and answers an unchanged function with it', async () => {
    const s = await setup({ 'hello.yaml': fnYaml('hello', py('A')) });
    const first = await s.store.publishVersion('hello', { description: 'code A' });
    expect(first.created).toBe(true);
    expect(first.version.spec).toMatchObject({ function: 'hello', version: '1', description: 'code A', snapshot: { code: { inline: { 'app.py': 'A' } } } });
    expect(first.version.metadata).toMatchObject({ name: 'hello-v1', labels: { 'hearth.dev/version-of': 'hello', 'hearth.dev/version': '1' } });
    expect(readFileSync(join(s.dir, VERSIONS_DIR, 'hello', '1.yaml'), 'utf8')).toContain('kind: FunctionVersion');
    expect(readFileSync(join(s.dir, VERSIONS_DIR, 'hello', 'counter'), 'utf8').trim()).toBe('1');
    expect(s.catalog.versions('hello').map((v) => v.spec.version)).toEqual(['1']);

    const again = await s.store.publishVersion('hello');
    expect(again).toMatchObject({ created: false, version: { spec: { version: '1' } } });
    // Aliases, schedules and reserved concurrency are the function's, not the version's: changing them publishes nothing new.
    writeFileSync(join(s.dir, 'hello.yaml'), fnYaml('hello', py('A', { reservedConcurrency: 5 })));
    await s.reload();
    expect((await s.store.publishVersion('hello')).created).toBe(false);

    writeFileSync(join(s.dir, 'hello.yaml'), fnYaml('hello', py('B')));
    await s.reload();
    const second = await s.store.publishVersion('hello');
    expect(second).toMatchObject({ created: true, version: { spec: { version: '2', snapshot: { code: { inline: { 'app.py': 'B' } } } } } });
    expect((await s.store.listVersions('hello')).map((v) => v.spec.version)).toEqual(['1', '2']);
  });

  it('refuses a stale CodeSha256 (precondition) and an unknown function (not found)', async () => {
    const s = await setup({ 'hello.yaml': fnYaml('hello', py('A')) });
    expect((await storeError(s.store.publishVersion('hello', { expectedDigest: 'a'.repeat(64) }))).kind).toBe('precondition');
    expect((await storeError(s.store.publishVersion('nope'))).kind).toBe('not-found');
    const v = (await s.store.publishVersion('hello')).version;
    expect((await s.store.publishVersion('hello', { expectedDigest: v.spec.codeSha256 })).created).toBe(false);
  });

  it('two publishes at once get one version and the unchanged answer, never a clash', async () => {
    const s = await setup({ 'hello.yaml': fnYaml('hello', py('A')) });
    const results = await Promise.all([s.store.publishVersion('hello'), s.store.publishVersion('hello'), s.store.publishVersion('hello')]);
    expect(results.map((r) => r.version.spec.version)).toEqual(['1', '1', '1']);
    expect(results.filter((r) => r.created)).toHaveLength(1);
  });

  it('two stores over one directory (two processes) publishing different code at once get two numbers', async () => {
    const a = await setup({ 'hello.yaml': fnYaml('hello', py('A')) });
    const b = await setup({}, a.dir);
    // b's catalog sees other code for the same function, as another process would after an edit.
    const fn = a.catalog.get('hello') as HearthFunction;
    b.catalog.set({ ...fn, spec: { ...fn.spec, code: { inline: { 'app.py': 'B' } } } });
    const [ra, rb] = await Promise.all([a.store.publishVersion('hello'), b.store.publishVersion('hello')]);
    expect(new Set([ra.version.spec.version, rb.version.spec.version])).toEqual(new Set(['1', '2']));
    const reread = await setup({}, a.dir);
    expect((await reread.store.listVersions('hello')).map((v) => v.spec.snapshot.code.inline?.['app.py']).sort()).toEqual(['A', 'B']);
  });

  it('never gives a number twice: after deleting the newest version, and after a restart', async () => {
    const s = await setup({ 'hello.yaml': fnYaml('hello', py('A')) });
    await s.store.publishVersion('hello');
    writeFileSync(join(s.dir, 'hello.yaml'), fnYaml('hello', py('B')));
    await s.reload();
    await s.store.publishVersion('hello');
    await s.store.deleteVersion('hello', '2');
    expect(existsSync(join(s.dir, VERSIONS_DIR, 'hello', '2.yaml'))).toBe(false);
    expect((await storeError(s.store.deleteVersion('hello', '2'))).kind).toBe('not-found');
    writeFileSync(join(s.dir, 'hello.yaml'), fnYaml('hello', py('C')));
    await s.reload();
    expect((await s.store.publishVersion('hello')).version.spec.version).toBe('3');
    await s.store.deleteVersion('hello', '3');

    const restarted = await setup({}, s.dir);
    expect(restarted.catalog.versions('hello').map((v) => v.spec.version)).toEqual(['1']);
    writeFileSync(join(s.dir, 'hello.yaml'), fnYaml('hello', py('D')));
    await restarted.reload();
    expect((await restarted.store.publishVersion('hello')).version.spec.version).toBe('4');
  });

  it('copies the package into the version: a new zip behind the same path is a new version, and the old one keeps its bytes', async () => {
    const zipA = await zipBytes([{ name: 'app.py', data: 'def handler(e, c):\n    return "A"\n' }]);
    const zipB = await zipBytes([{ name: 'app.py', data: 'def handler(e, c):\n    return "B"\n' }]);
    const spec: FunctionSpecInput = { runtime: 'python3.12', handler: 'app.handler', code: { package: { path: 'fn.zip' } }, layers: [{ path: 'fn.zip' }] };
    const s = await setup({ 'pkg.yaml': fnYaml('pkg', spec), 'fn.zip': zipA });
    const v1 = (await s.store.publishVersion('pkg')).version;
    const copy = v1.spec.snapshot.code.package?.path as string;
    expect(copy).toBe(join(s.dir, VERSIONS_DIR, 'pkg', '1', 'code.zip'));
    expect(v1.spec.snapshot.layers?.[0]?.path).toBe(join(s.dir, VERSIONS_DIR, 'pkg', '1', 'layer-0.zip'));
    expect(v1.spec.snapshot.code.package?.sha256).toMatch(/^[a-f0-9]{64}$/);
    expect(readFileSync(copy).equals(zipA)).toBe(true);
    expect(statSync(copy).mode & 0o222).toBe(0);

    writeFileSync(join(s.dir, 'fn.zip'), zipB);
    // The spec did not change, only the bytes behind its path.
    const v2 = await s.store.publishVersion('pkg');
    expect(v2).toMatchObject({ created: true, version: { spec: { version: '2' } } });
    expect(v2.version.spec.codeSha256).not.toBe(v1.spec.codeSha256);
    expect(readFileSync(copy).equals(zipA)).toBe(true);
    expect(readFileSync(v2.version.spec.snapshot.code.package?.path as string).equals(zipB)).toBe(true);
  });

  it('a version of a function made from an upload keeps its own copy, by the upload\'s digest, by which the uploads still know the package (CodeSize, Code.Location)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
    const uploads = () => new PackageUploads({ backend: new DirectoryUploads(dir), signingKey: Buffer.alloc(32, 7), naming: { kind: 'path' } });
    const zip = await zipBytes([{ name: 'app.py', data: 'def handler(e, c):\n    return "up"\n' }]);
    const up = await uploads().put(zip);
    const s = await setup({ 'up.yaml': fnYaml('up', { runtime: 'python3.12', handler: 'app.handler', code: { package: up.source } }) }, dir);
    const pkg = (await s.store.publishVersion('up')).version.spec.snapshot.code.package;
    expect(pkg).toEqual({ path: join(dir, VERSIONS_DIR, 'up', '1', 'code.zip'), sha256: sha256(zip) });
    expect(readFileSync(pkg?.path ?? '').equals(zip)).toBe(true);
    // A new PackageUploads, as after a restart: the size is the backend's.
    expect(await uploads().size(pkg?.sha256 ?? '')).toBe(zip.length);
  });

  it('turns ConfigMap code into inline code in the snapshot; a changed ConfigMap is a new version', async () => {
    const cm = (text: string) => stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'src' }, data: { 'app.py': text } });
    const s = await setup({ 'cm.yaml': `${fnYaml('cm', { runtime: 'python3.12', handler: 'app.handler', code: { configMap: { name: 'src' } } })}---\n${cm('A')}` });
    const v1 = (await s.store.publishVersion('cm')).version;
    expect(v1.spec.snapshot.code).toEqual({ inline: { 'app.py': 'A' } });
    expect((await s.store.publishVersion('cm')).created).toBe(false);
    writeFileSync(join(s.dir, 'cm.yaml'), `${fnYaml('cm', { runtime: 'python3.12', handler: 'app.handler', code: { configMap: { name: 'src' } } })}---\n${cm('B')}`);
    await s.reload();
    expect((await s.store.publishVersion('cm')).version.spec).toMatchObject({ version: '2', snapshot: { code: { inline: { 'app.py': 'B' } } } });
  });

  it('versioning.retain deletes the oldest versions past the count that no alias points to', async () => {
    const s = await setup({ 'r.yaml': fnYaml('r', py('1', { versioning: { retain: 2 } })) });
    await s.store.publishVersion('r');
    await s.store.putAlias('r', { name: 'live', version: '1' }, 'create');
    for (const code of ['2', '3', '4']) {
      writeFileSync(join(s.dir, 'r.yaml'), readFileSync(join(s.dir, 'r.yaml'), 'utf8').replace(/app\.py: "?\d"?/, `app.py: "${code}"`));
      await s.reload();
      expect((await s.store.publishVersion('r')).created).toBe(true);
    }
    expect((await s.store.listVersions('r')).map((v) => v.spec.version)).toEqual(['1', '3', '4']);
    expect(readdirSync(join(s.dir, VERSIONS_DIR, 'r')).sort()).toEqual(['1', '1.yaml', '3', '3.yaml', '4', '4.yaml', 'counter']);
  });
});

describe('aliases in the Function file', () => {
  const commented = `# The canary of the team: keep this comment.
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}   # flow style stays flow style
data:
  a: "1"
---
# hello is the function
apiVersion: hearth.dev/v1alpha1
kind: Function
metadata:
  name: hello # the name
spec:
  runtime: python3.12   # the runtime
  handler: app.handler
  code:
    inline:
      app.py: |
        def handler(e, c):
            return "A"
---
apiVersion: hearth.dev/v1alpha1
kind: Function
metadata: { name: other }
spec: {runtime: python3.12, handler: app.handler, code: {inline: {app.py: "x"}}}
`;

  it('creates, updates and deletes spec.aliases of that document only, keeping comments and the other documents byte for byte; the catalog follows at once', async () => {
    const s = await setup({ 'team.yaml': commented });
    await s.store.publishVersion('hello');
    const file = join(s.dir, 'team.yaml');

    const created = await s.store.putAlias('hello', { name: 'live', version: '1', description: 'what callers use' }, 'create');
    expect(created).toEqual({ name: 'live', version: '1', minInstances: 0, description: 'what callers use' });
    expect(s.catalog.get('hello')?.spec.aliases).toEqual([created]);
    const text = readFileSync(file, 'utf8');
    const [cmDoc, , otherDoc] = commented.split('---\n');
    expect(text.startsWith(cmDoc as string)).toBe(true);
    expect(text.endsWith(`---\n${otherDoc as string}`)).toBe(true);
    for (const kept of ['# hello is the function', 'name: hello # the name', 'runtime: python3.12 # the runtime']) expect(text).toContain(kept);
    expect(text).toContain('  aliases:\n    - name: live\n      version: "1"\n      description: what callers use\n');

    writeFileSync(join(s.dir, 'team.yaml'), text.replace('      version: "1"\n', '      version: "1" # pinned by hand\n'));
    await s.reload();
    await s.store.putAlias('hello', { name: 'canary', version: '$LATEST' }, 'put');
    await s.store.putAlias('hello', { name: 'live', version: '1', minInstances: 2, description: 'what callers use' }, 'update');
    const after = readFileSync(file, 'utf8');
    expect(after).toContain('version: "1" # pinned by hand');
    expect(after).toContain('      minInstances: 2\n');
    expect(s.catalog.get('hello')?.spec.aliases?.map((a) => [a.name, a.version, a.minInstances])).toEqual([['live', '1', 2], ['canary', '$LATEST', 0]]);
    expect(await s.store.listAliases('hello')).toHaveLength(2);

    await s.store.deleteAlias('hello', 'live');
    await s.store.deleteAlias('hello', 'canary');
    const none = readFileSync(file, 'utf8');
    expect(none).not.toContain('aliases');
    expect(none.startsWith(cmDoc as string)).toBe(true);
    expect(s.catalog.get('hello')?.spec.aliases).toBeUndefined();
    // What the store set is what the directory loads: the next reload changes nothing.
    const before = JSON.stringify(s.catalog.get('hello'));
    await s.reload();
    expect(JSON.stringify(s.catalog.get('hello'))).toBe(before);
  });

  it("writes an alias's function URL settings (url.invokeMode) and reads them back; BUFFERED, the default, leaves no url field", async () => {
    const s = await setup({ 'team.yaml': commented });
    await s.store.publishVersion('hello');
    const file = join(s.dir, 'team.yaml');
    await s.store.putAlias('hello', { name: 'live', version: '1', url: { invokeMode: 'RESPONSE_STREAM' } }, 'create');
    expect(readFileSync(file, 'utf8')).toContain('    - name: live\n      version: "1"\n      url:\n        invokeMode: RESPONSE_STREAM\n');
    await s.reload();
    expect((await s.store.listAliases('hello'))[0]?.url).toEqual({ invokeMode: 'RESPONSE_STREAM' });
    expect(s.catalog.get('hello')?.spec.aliases?.[0]?.url).toEqual({ invokeMode: 'RESPONSE_STREAM' });
    await s.store.putAlias('hello', { name: 'live', version: '1', url: { invokeMode: 'BUFFERED' } }, 'update');
    expect(readFileSync(file, 'utf8')).not.toContain('url:');
    await s.reload();
    expect((await s.store.listAliases('hello'))[0]?.url).toBeUndefined();
  });

  it('create of an existing alias is a conflict; update, delete and get of a missing one are not found', async () => {
    const s = await setup({ 'hello.yaml': fnYaml('hello', py('A')) });
    await s.store.putAlias('hello', { name: 'live', version: '$LATEST' }, 'create');
    expect((await storeError(s.store.putAlias('hello', { name: 'live', version: '$LATEST' }, 'create'))).kind).toBe('conflict');
    expect((await storeError(s.store.putAlias('hello', { name: 'nope', version: '$LATEST' }, 'update'))).kind).toBe('not-found');
    expect((await storeError(s.store.deleteAlias('hello', 'nope'))).kind).toBe('not-found');
    expect((await storeError(s.store.listAliases('missing'))).kind).toBe('not-found');
  });

  it.each<{ what: string; alias: AliasInput; path: string }>([
    { what: 'a weight above 1', alias: { name: 'live', version: '1', additionalVersionWeights: { '2': 1.5 } }, path: 'spec.aliases[0].additionalVersionWeights["2"]' },
    { what: 'a weight below 0', alias: { name: 'live', version: '1', additionalVersionWeights: { '2': -0.1 } }, path: 'spec.aliases[0].additionalVersionWeights["2"]' },
    { what: 'two additional versions', alias: { name: 'live', version: '1', additionalVersionWeights: { '2': 0.1, '3': 0.1 } }, path: 'spec.aliases[0].additionalVersionWeights' },
    { what: 'an alias to a version that does not exist', alias: { name: 'live', version: '9' }, path: 'spec.aliases[0].version' },
    { what: 'an additional version that does not exist', alias: { name: 'live', version: '1', additionalVersionWeights: { '9': 0.1 } }, path: 'spec.aliases[0].additionalVersionWeights["9"]' },
    { what: 'a name that is a number', alias: { name: '7', version: '1' }, path: 'spec.aliases[0].name' },
    { what: 'the name $LATEST', alias: { name: '$LATEST', version: '1' }, path: 'spec.aliases[0].name' },
  ])('refuses $what with the field path', async ({ alias, path }) => {
    const s = await setup({ 'hello.yaml': fnYaml('hello', py('A')) });
    await s.store.publishVersion('hello');
    writeFileSync(join(s.dir, 'hello.yaml'), fnYaml('hello', py('B')));
    await s.reload();
    await s.store.publishVersion('hello');
    const before = readFileSync(join(s.dir, 'hello.yaml'), 'utf8');
    const err = await storeError(s.store.putAlias('hello', alias, 'put'));
    expect(err.kind).toBe('invalid');
    expect(err.problems.map((p) => p.path)).toContain(path);
    expect(readFileSync(join(s.dir, 'hello.yaml'), 'utf8')).toBe(before);
    expect(s.catalog.get('hello')?.spec.aliases).toBeUndefined();
  });

  it('a version an alias points to cannot be deleted (conflict) until the alias moves', async () => {
    const s = await setup({ 'hello.yaml': fnYaml('hello', py('A')) });
    await s.store.publishVersion('hello');
    writeFileSync(join(s.dir, 'hello.yaml'), fnYaml('hello', py('B')));
    await s.reload();
    await s.store.publishVersion('hello');
    await s.store.putAlias('hello', { name: 'live', version: '2', additionalVersionWeights: { '1': 0.1 } }, 'create');
    for (const v of ['1', '2']) {
      const err = await storeError(s.store.deleteVersion('hello', v));
      expect(err.kind).toBe('conflict');
      expect(err.message).toContain('live');
    }
    await s.store.putAlias('hello', { name: 'live', version: '2' }, 'put');
    await s.store.deleteVersion('hello', '1');
    expect((await s.store.listVersions('hello')).map((v) => v.spec.version)).toEqual(['2']);
  });
});

describe('loading and following the directory', () => {
  it('an alias to a missing version is reported with its field path; the Function still loads', async () => {
    const s = await setup({ 'hello.yaml': fnYaml('hello', py('A', { aliases: [{ name: 'live', version: '3' }, { name: 'now', version: '$LATEST' }] })) });
    expect(s.catalog.get('hello')).toBeDefined();
    expect(missingVersionProblems(s.catalog.list(), (n) => s.catalog.versions(n))).toEqual(new Map([['hello', [{ path: 'spec.aliases[0].version', message: 'version 3 does not exist' }]]]));
  });

  it('a function whose file is removed takes none of its versions with it: they are there again when the file comes back', async () => {
    const s = await setup({ 'hello.yaml': fnYaml('hello', py('A')) });
    await s.store.publishVersion('hello');
    rmSync(join(s.dir, 'hello.yaml'));
    await s.reload();
    expect(s.catalog.get('hello')).toBeUndefined();
    expect((await storeError(s.store.listVersions('hello'))).kind).toBe('not-found');
    writeFileSync(join(s.dir, 'hello.yaml'), fnYaml('hello', py('A')));
    await s.reload();
    expect((await s.store.listVersions('hello')).map((v) => v.spec.version)).toEqual(['1']);
    expect((await s.store.publishVersion('hello')).created).toBe(false);
  });

  it('a reload after an alias write agrees with the catalog the store set: the alias never flips back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'hello.yaml'), fnYaml('hello', py('A')));
    const catalog = new MemoryCatalog();
    const objects = new ObjectStore(dir);
    const store = new DirectoryStore({ dir, catalog, objects });
    await store.load();
    const watcher = await watchFunctionDir(dir, catalog, pino({ level: 'silent' }), { objects });
    watchers.push(watcher);
    store.writeBesideReloads(watcher.besideReloads);
    await store.publishVersion('hello');
    writeFileSync(join(dir, 'hello.yaml'), readFileSync(join(dir, 'hello.yaml'), 'utf8').replace('app.py: A', 'app.py: B'));
    await waitFor('the edit loaded', () => catalog.get('hello')?.spec.code.inline?.['app.py'] === 'B');
    await store.publishVersion('hello');

    const seen: string[] = [];
    catalog.onChange((n) => seen.push(JSON.stringify(catalog.get(n)?.spec.aliases ?? [])));
    // A reload and the writes interleave: the watcher reloads on each rename.
    for (const [i, target] of ['1', '2', '1', '2'].entries()) {
      await store.putAlias('hello', { name: 'live', version: target }, 'put');
      // At once, not after the watcher's debounce.
      expect(catalog.get('hello')?.spec.aliases?.[0]?.version).toBe(target);
      if (i % 2 === 1) await new Promise((r) => setTimeout(r, 400));
    }
    await new Promise((r) => setTimeout(r, 500));
    // Every change the catalog made was forward: 1, 2, 1, 2, never an older state after a newer one.
    const versions = seen.map((s) => (JSON.parse(s) as Array<{ version: string }>)[0]?.version);
    expect(versions).toEqual(['1', '2', '1', '2']);
  });

  it('versioning.publishOnChange publishes at load and on each change of code or configuration, not on alias edits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hearth-store-'));
    dirs.push(dir);
    const file = join(dir, 'auto.yaml');
    writeFileSync(file, fnYaml('auto', py('A', { versioning: { publishOnChange: true } })));
    const catalog = new MemoryCatalog();
    const objects = new ObjectStore(dir);
    const store = new DirectoryStore({ dir, catalog, objects });
    await store.load();
    const watcher = await watchFunctionDir(dir, catalog, pino({ level: 'silent' }), { objects, afterSync: (names) => store.publishChanged(names) });
    watchers.push(watcher);
    store.writeBesideReloads(watcher.besideReloads);
    expect(catalog.versions('auto').map((v) => v.spec.version)).toEqual(['1']);

    writeFileSync(file, readFileSync(file, 'utf8').replace('app.py: A', 'app.py: B'));
    await waitFor('version 2 published on change', () => catalog.versions('auto').length === 2, 10_000);
    expect(catalog.versions('auto')[1]?.spec).toMatchObject({ version: '2', description: 'published on change', snapshot: { code: { inline: { 'app.py': 'B' } } } });

    await store.putAlias('auto', { name: 'live', version: '2' }, 'create');
    await new Promise((r) => setTimeout(r, 500));
    expect(catalog.versions('auto')).toHaveLength(2);

    // A restart over the same files publishes nothing new: the snapshot matches the latest version.
    await watcher.close();
    watchers.splice(0);
    const catalog2 = new MemoryCatalog();
    const store2 = new DirectoryStore({ dir, catalog: catalog2, objects });
    await store2.load();
    watchers.push(await watchFunctionDir(dir, catalog2, pino({ level: 'silent' }), { objects, afterSync: (names) => store2.publishChanged(names) }));
    expect(catalog2.versions('auto').map((v) => v.spec.version)).toEqual(['1', '2']);
    expect(catalog2.get('auto')?.spec.aliases?.[0]?.version).toBe('2');
  });
});
