// The embedded platform's FunctionStore reading and writing Functions in a
// real functions directory: a new Function is NAME.yaml, an update edits the
// file that holds it in place (comments and other documents kept), a delete
// takes its document (or file) and its versions; revisions guard updates;
// the catalog follows each write at once and the watcher's later reload
// changes nothing; the observation says what the platform serves.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCatalog } from '../../src/api/catalog.js';
import type { FunctionSpecInput } from '../../src/api/function.js';
import { ObjectStore } from '../../src/api/object-store.js';
import { loadFunctionDir, SOURCE_ANNOTATION, syncCatalog, watchFunctionDir, type FunctionDirWatcher } from '../../src/platform/function-files.js';
import { memoryQueueProblems } from '../../src/platform/memory-queue.js';
import { DirectoryStore, VERSIONS_DIR } from '../../src/store/directory-store.js';
import type { StoreError } from '../../src/store/function-store.js';
import { directoryStoreOn } from '../helpers/directory-store.js';
import { startPlatform } from '../helpers/platform.js';
import { waitFor } from '../helpers/wait.js';
import { refused } from '../helpers/store-refusals.js';

const dirs: string[] = [];
const watchers: FunctionDirWatcher[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const w of watchers.splice(0)) await w.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const py = (code: string, extra: Partial<FunctionSpecInput> = {}): FunctionSpecInput => ({ runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': code } }, ...extra });
const fnYaml = (name: string, spec: FunctionSpecInput) => stringify({ apiVersion: 'hearth.dev/v1alpha1', kind: 'Function', metadata: { name }, spec });

function tempDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-fnstore-'));
  dirs.push(dir);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

/** What a reload of the directory would change in the catalog: nothing, after the store's own writes. */
async function reloadDiff(dir: string, catalog: MemoryCatalog) {
  return syncCatalog(catalog, (await loadFunctionDir(dir)).functions);
}

const MULTI = `# Team functions. Edited by hand too.
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings # shared settings
data:
  mode: fast
---
# the greeter
apiVersion: hearth.dev/v1alpha1
kind: Function
metadata:
  name: greeter
spec:
  runtime: python3.12 # pinned
  handler: app.handler
  code:
    inline:
      app.py: |
        def handler(event, context):
            return "hi"
---
apiVersion: hearth.dev/v1alpha1
kind: Function
metadata:
  name: second
spec: {runtime: nodejs20, handler: index.handler, code: {inline: {index.mjs: "export const handler = () => 2"}}}
`;

describe('creating', () => {
  it('writes NAME.yaml with the spec as given, sets the catalog at once, and a reload changes nothing', async () => {
    const s = await directoryStoreOn(tempDir());
    const stored = await s.store.createFunction({ name: 'hello', spec: py('A', { description: 'says A', tags: { team: 'x' } }), labels: { app: 'demo' } });
    const file = join(s.dir, 'hello.yaml');
    // As written: no defaults filled in.
    expect(readFileSync(file, 'utf8')).toBe(fnYaml('hello', py('A', { description: 'says A', tags: { team: 'x' } })).replace('metadata:\n  name: hello\n', 'metadata:\n  name: hello\n  labels:\n    app: demo\n'));
    // Read back: validated, with the schema's defaults.
    expect(stored.fn.spec).toMatchObject({ runtime: 'python3.12', memoryMB: 128, description: 'says A', tags: { team: 'x' } });
    expect(stored.fn.metadata).toMatchObject({ name: 'hello', labels: { app: 'demo' }, annotations: { [SOURCE_ANNOTATION]: file } });
    expect(stored.revision).toMatch(/^[a-f0-9]{64}$/);
    expect(Date.parse(stored.lastModified ?? '')).toBeGreaterThan(Date.now() - 60_000);
    expect(stored.observation).toEqual({ served: true, current: true });
    expect(s.catalog.get('hello')?.spec.code.inline).toEqual({ 'app.py': 'A' });
    expect(await reloadDiff(s.dir, s.catalog)).toEqual({ added: [], changed: [], removed: [] });
    expect(await s.store.getFunction('hello')).toEqual(stored);
  });

  it('refuses a name any file holds, even in a document that does not load, and a NAME.yaml that holds something else', async () => {
    const dir = tempDir({ 'team.yaml': MULTI, 'broken.yaml': fnYaml('broken', { runtime: 'python3.12', memoryMB: 1 } as FunctionSpecInput), 'taken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n' });
    const s = await directoryStoreOn(dir);
    for (const name of ['greeter', 'second', 'broken']) {
      const err = await refused(s.store.createFunction({ name, spec: py('X') }), 'conflict');
      expect(err.message).toBe(`Function already exist: ${name}`);
    }
    expect((await refused(s.store.createFunction({ name: 'taken', spec: py('X') }), 'conflict')).message).toContain('taken.yaml exists already');
    expect(readFileSync(join(dir, 'team.yaml'), 'utf8')).toBe(MULTI);
    expect(readFileSync(join(dir, 'taken.yaml'), 'utf8')).toContain('ConfigMap');
  });

  it('refuses an invalid spec or name with field paths, writing nothing', async () => {
    const s = await directoryStoreOn(tempDir());
    const bad = await refused(s.store.createFunction({ name: 'hello', spec: { ...py('A'), memoryMB: 1, timeoutSeconds: 100_000 } }), 'invalid');
    expect(bad.problems.map((p) => p.path).sort()).toEqual(['spec.memoryMB', 'spec.timeoutSeconds']);
    const badName = await refused(s.store.createFunction({ name: '../Evil', spec: py('A') }), 'invalid');
    expect(badName.problems.map((p) => p.path)).toEqual(['metadata.name']);
    expect((await loadFunctionDir(s.dir)).functions).toEqual([]);
    expect(s.catalog.list()).toEqual([]);
  });

  it('refuses what this platform refuses (the files loader would not load it)', async () => {
    const dir = tempDir();
    const catalog = new MemoryCatalog();
    const store = new DirectoryStore({ dir, catalog, objects: new ObjectStore(dir), refuse: memoryQueueProblems });
    const spec = py('A', { async: { onFailure: { stream: 'failures' } } });
    const err = await refused(store.createFunction({ name: 'needs-redis', spec }), 'invalid');
    expect(err.problems.map((p) => p.path)).toEqual(['spec.async.onFailure.stream']);
    expect(existsSync(join(dir, 'needs-redis.yaml'))).toBe(false);
  });

  it('publishes on change when the spec asks for it, as the watcher would', async () => {
    const s = await directoryStoreOn(tempDir());
    await s.store.createFunction({ name: 'auto', spec: py('A', { versioning: { publishOnChange: true } }) });
    expect(s.catalog.versions('auto').map((v) => v.spec.version)).toEqual(['1']);
    await s.store.updateFunction('auto', (spec) => ({ ...spec, code: { inline: { 'app.py': 'B' } } }));
    expect(s.catalog.versions('auto').map((v) => v.spec.version)).toEqual(['1', '2']);
  });
});

describe('reading', () => {
  it('lists every Function of every file by name, with revisions and observations', async () => {
    const dir = tempDir({ 'team.yaml': MULTI, 'alpha.yaml': fnYaml('alpha', py('A')) });
    const s = await directoryStoreOn(dir);
    const list = await s.store.listFunctions();
    expect(list.map((f) => f.fn.metadata.name)).toEqual(['alpha', 'greeter', 'second']);
    expect(list.map((f) => f.fn.metadata.annotations?.[SOURCE_ANNOTATION])).toEqual([join(dir, 'alpha.yaml'), join(dir, 'team.yaml'), join(dir, 'team.yaml')]);
    expect(new Set(list.map((f) => f.revision)).size).toBe(3);
    expect(list.every((f) => f.observation.served && f.observation.current)).toBe(true);
    expect(await s.store.getFunction('second')).toEqual(list[2]);
    expect((await refused(s.store.getFunction('nope'), 'not-found')).message).toBe('Function not found: nope');
  });

  it('a comment or reformatting is no new revision; a changed field is', async () => {
    const dir = tempDir({ 'alpha.yaml': fnYaml('alpha', py('A')) });
    const s = await directoryStoreOn(dir);
    const before = (await s.store.getFunction('alpha')).revision;
    writeFileSync(join(dir, 'alpha.yaml'), `# a comment\n${fnYaml('alpha', py('A'))}`);
    expect((await s.store.getFunction('alpha')).revision).toBe(before);
    writeFileSync(join(dir, 'alpha.yaml'), fnYaml('alpha', py('A', { memoryMB: 256 })));
    expect((await s.store.getFunction('alpha')).revision).not.toBe(before);
  });
});

describe('updating', () => {
  it('edits the spec as written in its own file, keeping comments and the other documents, and the catalog at once', async () => {
    const dir = tempDir({ 'team.yaml': MULTI });
    const s = await directoryStoreOn(dir);
    const before = await s.store.getFunction('greeter');
    let seen: FunctionSpecInput | undefined;
    const after = await s.store.updateFunction('greeter', (spec) => {
      seen = spec;
      return { ...spec, memoryMB: 512, description: 'greets' };
    });
    // The edit saw the spec as written: no defaults.
    expect(seen).toEqual({ runtime: 'python3.12', handler: 'app.handler', code: { inline: { 'app.py': 'def handler(event, context):\n    return "hi"\n' } } });
    const text = readFileSync(join(dir, 'team.yaml'), 'utf8');
    expect(text).toContain('# Team functions. Edited by hand too.');
    expect(text).toContain('name: settings # shared settings');
    expect(text).toContain('# the greeter');
    expect(text).toContain('runtime: python3.12 # pinned');
    expect(text).toContain('memoryMB: 512');
    expect(text.endsWith(MULTI.slice(MULTI.lastIndexOf('---')))).toBe(true);
    expect(after.fn.spec).toMatchObject({ memoryMB: 512, description: 'greets', timeoutSeconds: 3 });
    expect(after.revision).not.toBe(before.revision);
    expect(s.catalog.get('greeter')?.spec.memoryMB).toBe(512);
    expect(after.observation).toEqual({ served: true, current: true });
    expect(await reloadDiff(dir, s.catalog)).toEqual({ added: [], changed: [], removed: [] });
    expect(await s.store.getFunction('greeter')).toEqual(after);
  });

  it('refuses a stale expectedRevision and applies a current one', async () => {
    const s = await directoryStoreOn(tempDir({ 'alpha.yaml': fnYaml('alpha', py('A')) }));
    const r0 = (await s.store.getFunction('alpha')).revision;
    const r1 = (await s.store.updateFunction('alpha', (spec) => ({ ...spec, memoryMB: 256 }), { expectedRevision: r0 })).revision;
    const err = await refused(s.store.updateFunction('alpha', (spec) => ({ ...spec, memoryMB: 1024 }), { expectedRevision: r0 }), 'precondition');
    expect(err.message).toContain(r1);
    expect((await s.store.getFunction('alpha')).fn.spec.memoryMB).toBe(256);
    // A hand edit is a new revision too.
    writeFileSync(join(s.dir, 'alpha.yaml'), fnYaml('alpha', py('B', { memoryMB: 256 })));
    await refused(s.store.updateFunction('alpha', (spec) => spec, { expectedRevision: r1 }), 'precondition');
  });

  it('concurrent updates: both applied without a revision, one precondition with the same one', async () => {
    const s = await directoryStoreOn(tempDir({ 'alpha.yaml': fnYaml('alpha', py('A')) }));
    await Promise.all([s.store.updateFunction('alpha', (spec) => ({ ...spec, memoryMB: 256 })), s.store.updateFunction('alpha', (spec) => ({ ...spec, description: 'both' }))]);
    expect((await s.store.getFunction('alpha')).fn.spec).toMatchObject({ memoryMB: 256, description: 'both' });

    const rev = (await s.store.getFunction('alpha')).revision;
    const results = await Promise.allSettled([
      s.store.updateFunction('alpha', (spec) => ({ ...spec, timeoutSeconds: 10 }), { expectedRevision: rev }),
      s.store.updateFunction('alpha', (spec) => ({ ...spec, timeoutSeconds: 20 }), { expectedRevision: rev }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect((rejected?.reason as StoreError).kind).toBe('precondition');
    expect([10, 20]).toContain((await s.store.getFunction('alpha')).fn.spec.timeoutSeconds);
  });

  it('refuses an edit that makes the spec invalid, with field paths, leaving the file as it was', async () => {
    const s = await directoryStoreOn(tempDir({ 'alpha.yaml': fnYaml('alpha', py('A')) }));
    const err = await refused(s.store.updateFunction('alpha', (spec) => ({ ...spec, memoryMB: 5, runtime: 'cobol' as never })), 'invalid');
    expect(err.problems.map((p) => p.path).sort()).toEqual(['spec.memoryMB', 'spec.runtime']);
    expect(readFileSync(join(s.dir, 'alpha.yaml'), 'utf8')).toBe(fnYaml('alpha', py('A')));
    await refused(s.store.updateFunction('nope', (spec) => spec), 'not-found');
  });

  it('fixes a document that no longer loads (the catalog kept its last clean text)', async () => {
    const s = await directoryStoreOn(tempDir({ 'alpha.yaml': fnYaml('alpha', py('A')) }));
    // What the watcher does with a file that turns invalid: keeps serving what it last defined.
    writeFileSync(join(s.dir, 'alpha.yaml'), fnYaml('alpha', py('B', { memoryMB: 1 })));
    const broken = await s.store.getFunction('alpha');
    expect(broken.fn.spec.code.inline).toEqual({ 'app.py': 'A' });
    // What it last defined still serves; the stored text does not load (Lambda: Active, LastUpdateStatus Failed).
    expect(broken.observation).toEqual({ served: true, current: false, failure: { code: 'InvalidConfiguration', message: 'spec.memoryMB: must be at least 128' } });
    const fixed = await s.store.updateFunction('alpha', (spec) => ({ ...spec, memoryMB: 256 }), { expectedRevision: broken.revision });
    expect(fixed.fn.spec).toMatchObject({ memoryMB: 256, code: { inline: { 'app.py': 'B' } } });
    expect(fixed.observation).toEqual({ served: true, current: true });
    expect(s.catalog.get('alpha')?.spec.memoryMB).toBe(256);
  });
});

describe('deleting', () => {
  it('removes the file of its only Function, its versions and their package copies, and the catalog entry', async () => {
    const s = await directoryStoreOn(tempDir({ 'alpha.yaml': fnYaml('alpha', py('A')) }));
    await s.store.publishVersion('alpha');
    expect(existsSync(join(s.dir, VERSIONS_DIR, 'alpha', '1.yaml'))).toBe(true);
    await s.store.deleteFunction('alpha');
    expect(existsSync(join(s.dir, 'alpha.yaml'))).toBe(false);
    expect(existsSync(join(s.dir, VERSIONS_DIR, 'alpha'))).toBe(false);
    expect(s.catalog.get('alpha')).toBeUndefined();
    expect(s.catalog.versions('alpha')).toEqual([]);
    expect(await reloadDiff(s.dir, s.catalog)).toEqual({ added: [], changed: [], removed: [] });
    await refused(s.store.getFunction('alpha'), 'not-found');
    await refused(s.store.deleteFunction('alpha'), 'not-found');
    // A new function of that name starts afresh: version 1 again.
    await s.store.createFunction({ name: 'alpha', spec: py('B') });
    expect((await s.store.publishVersion('alpha')).version.spec.version).toBe('1');
  });

  it('removes only its document from a file that holds others', async () => {
    const s = await directoryStoreOn(tempDir({ 'team.yaml': MULTI }));
    await s.store.deleteFunction('greeter');
    const text = readFileSync(join(s.dir, 'team.yaml'), 'utf8');
    expect(text).toBe(MULTI.slice(0, MULTI.indexOf('---\n# the greeter')) + MULTI.slice(MULTI.lastIndexOf('---')));
    expect(s.catalog.get('greeter')).toBeUndefined();
    expect(s.catalog.get('second')).toBeDefined();
    expect(s.objects.entries('ConfigMap', 'settings')).not.toBeTypeOf('string');
    expect(await reloadDiff(s.dir, s.catalog)).toEqual({ added: [], changed: [], removed: [] });
  });
});

describe('beside the file watcher', () => {
  it('the watcher reloads after each write find the catalog as the store set it (no flip-flop)', async () => {
    const dir = tempDir();
    const catalog = new MemoryCatalog();
    const objects = new ObjectStore(dir);
    const store = new DirectoryStore({ dir, catalog, objects });
    await store.load();
    const watcher = await watchFunctionDir(dir, catalog, pino({ level: 'silent' }), { objects });
    watchers.push(watcher);
    store.writeBesideReloads(watcher.besideReloads);
    const changes: string[] = [];
    catalog.onChange((name) => changes.push(`${name}:${catalog.get(name)?.spec.memoryMB ?? 'gone'}`));
    await store.createFunction({ name: 'w', spec: py('A') });
    for (const memoryMB of [256, 512, 1024]) await store.updateFunction('w', (spec) => ({ ...spec, memoryMB }));
    // Long enough for the watcher's debounce and reloads of every rename.
    await new Promise((r) => setTimeout(r, 600));
    expect(changes).toEqual(['w:128', 'w:256', 'w:512', 'w:1024']);
    await store.deleteFunction('w');
    await new Promise((r) => setTimeout(r, 600));
    expect(changes.slice(4)).toEqual(['w:gone', 'w:gone']); // the function, then its (empty) versions
    expect(catalog.get('w')).toBeUndefined();
  });
});

describe('observation', () => {
  it('a hand edit not yet loaded is served but not current; loaded, it is current', async () => {
    const s = await directoryStoreOn(tempDir({ 'alpha.yaml': fnYaml('alpha', py('A')) }));
    writeFileSync(join(s.dir, 'alpha.yaml'), fnYaml('alpha', py('B')));
    expect((await s.store.getFunction('alpha')).observation).toEqual({ served: true, current: false });
    await s.reload();
    expect((await s.store.getFunction('alpha')).observation).toEqual({ served: true, current: true });
    writeFileSync(join(s.dir, 'new.yaml'), fnYaml('new', py('N')));
    expect((await s.store.getFunction('new')).observation).toEqual({ served: false, current: false });
  });

  it('a file this platform refuses shows as a failure, not served', async () => {
    const dir = tempDir({ 'needs-redis.yaml': fnYaml('needs-redis', py('A', { async: { onFailure: { stream: 'failures' } } })) });
    const store = new DirectoryStore({ dir, catalog: new MemoryCatalog(), objects: new ObjectStore(dir), refuse: memoryQueueProblems });
    const stored = await store.getFunction('needs-redis');
    expect(stored.observation).toMatchObject({ served: false, current: false, failure: { code: 'InvalidConfiguration' } });
    expect(stored.observation.failure?.message).toContain('spec.async.onFailure.stream: needs Redis');
  });

  it('on the embedded platform: current once its code is prepared; a package that is not a ZIP fails with InvalidZipFileException', async () => {
    const p = await startPlatform({}, {}, { 'bad.zip': 'this is not a zip file' });
    closers.push(() => p.close());
    dirs.push(p.dir);
    await p.store.createFunction({ name: 'good', spec: py('def handler(e, c):\n    return 1\n') });
    await waitFor('good current', async () => (await p.store.getFunction('good')).observation.current, 20_000);
    expect((await p.store.getFunction('good')).observation).toEqual({ served: true, current: true });

    await p.store.createFunction({ name: 'bad', spec: { runtime: 'python3.12', handler: 'app.handler', code: { package: { path: 'bad.zip' } } } });
    const failed = await waitFor('bad failed', async () => (await p.store.getFunction('bad')).observation.failure, 20_000);
    expect(failed.code).toBe('InvalidZipFileException');
    expect(failed.message).toContain('bad.zip');
    // Never prepared, so never served (Lambda: State Failed).
    expect((await p.store.getFunction('bad')).observation).toMatchObject({ served: false, current: false });
    // Fixed by an update: the failure goes.
    await p.store.updateFunction('bad', (spec) => ({ ...spec, code: { inline: { 'app.py': 'def handler(e, c):\n    return 2\n' } } }));
    await waitFor('bad fixed', async () => {
      const o = (await p.store.getFunction('bad')).observation;
      return o.current && o.failure === undefined;
    }, 20_000);

    // An update whose code cannot be prepared: the version before keeps serving (Lambda: Active, LastUpdateStatus Failed).
    await p.store.updateFunction('good', (spec) => ({ ...spec, code: { package: { path: 'bad.zip' } } }));
    await waitFor('good update failed', async () => (await p.store.getFunction('good')).observation.failure, 20_000);
    expect((await p.store.getFunction('good')).observation).toMatchObject({ served: true, current: false, failure: { code: 'InvalidZipFileException' } });
    const answer = await fetch(`${p.url}/2015-03-31/functions/good/invocations`, { method: 'POST', body: '{}' });
    expect(await answer.text()).toBe('1');
  });
});
