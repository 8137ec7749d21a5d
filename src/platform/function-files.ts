// Loads Function YAML files from a directory into a catalog and follows the
// directory: files added, changed or removed add, change or remove functions.
// The v1 ConfigMaps and Secrets in the same files (as `kubectl apply -f DIR`
// would take them) feed the object store Functions' references resolve
// through; a Function whose referenced object changes is redeployed.
// An invalid document is reported with its field paths and skipped; the
// functions of the other documents keep running. While Hearth follows the
// directory, a file that was once loaded cleanly and now is empty or holds
// a document that does not parse or validate is taken as being written
// (editors truncate, then write) or mid-edit: what it last defined cleanly
// stays, and its new content counts once the file loads cleanly again.
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { MemoryCatalog } from '../api/catalog.js';
import { objectId, referencedObjects, type ConfigObject } from '../api/config-objects.js';
import type { EventSourceMapping } from '../api/event-source-mapping.js';
import type { HearthFunction } from '../api/function.js';
import type { FunctionVersion } from '../api/function-version.js';
import { validateManifests, type ManifestResult } from '../api/manifests.js';
import type { ObjectStore } from '../api/object-store.js';
import { describeProblems, type Problem } from '../api/validate.js';
import { aliasProblems } from '../versions/alias-problems.js';
import { versionNumbers } from '../versions/snapshot.js';

/** Annotation recording which file a function came from, so relative paths in it resolve. */
export const SOURCE_ANNOTATION = 'hearth.dev/source-file';

export interface LoadReport {
  functions: HearthFunction[];
  /** ConfigMaps and Secrets. */
  objects: ConfigObject[];
  /** EventSourceMappings (run by the embedded platform's event sources). */
  mappings: EventSourceMapping[];
  problems: Array<{ file: string; index: number; kind: string; name?: string; problems: Problem[] }>;
  /** Files read as they last loaded cleanly, because now they are empty or invalid (with lastGood only). */
  kept: string[];
}

const YAML_FILE = /\.ya?ml$/i;

export interface FunctionDirOptions {
  /** Where the directory's ConfigMaps and Secrets go, set before the functions that use them. */
  objects?: ObjectStore;
  /** Problems that keep a valid Function from running here (what this platform cannot do); none: it runs. */
  refuse?: (fn: HearthFunction) => Problem[];
  /**
   * Called after each load has been set in the catalog, with the functions it
   * added or changed (every function on the first load), inside the reload:
   * versioning.publishOnChange publishes from here.
   */
  afterSync?: (names: readonly string[]) => Promise<void>;
  /** Called after each load with every EventSourceMapping of the directory (the event sources diff them). */
  onMappings?: (mappings: readonly EventSourceMapping[]) => void;
}

type InvalidManifest = Extract<ManifestResult, { ok: false }>;

export interface LoadOptions extends Pick<FunctionDirOptions, 'refuse'> {
  /**
   * Each file's text as it last loaded cleanly, by path: kept up to date by
   * the load, and read instead of a file that is now empty or invalid (see
   * readAsSettled). Without it every file is read as it is.
   */
  lastGood?: Map<string, string>;
}

/**
 * The documents to load from a file: its own, unless it is unsettled (empty,
 * or a document that does not parse or validate) and has loaded cleanly
 * before, in which case those of its last clean text. Cross-file problems
 * (a name defined twice, what this platform refuses) are not the file's
 * own and do not make it unsettled.
 */
export function readAsSettled(file: string, text: string, lastGood: Map<string, string>): { docs: ManifestResult[]; problems: InvalidManifest[]; kept: boolean } {
  const docs = validateManifests(text);
  const problems = docs.filter((d): d is InvalidManifest => !d.ok);
  const unsettled = text.trim() === '' || problems.length > 0;
  if (!unsettled) {
    lastGood.set(file, text);
    return { docs, problems, kept: false };
  }
  const last = lastGood.get(file);
  if (last === undefined) return { docs, problems, kept: false };
  return { docs: validateManifests(last), problems, kept: true };
}

export async function loadFunctionDir(dir: string, opts: LoadOptions = {}): Promise<LoadReport> {
  const report: LoadReport = { functions: [], objects: [], mappings: [], problems: [], kept: [] };
  const seen = new Map<string, string>();
  const seenMappings = new Map<string, string>();
  const seenObjects = new Map<string, string>();
  const files = (await readdir(dir)).filter((f) => YAML_FILE.test(f)).sort();
  // A file removed takes what it defined with it, and a new file of the same name starts afresh.
  const present = new Set(files.map((f) => resolve(join(dir, f))));
  for (const f of opts.lastGood?.keys() ?? []) if (!present.has(f)) opts.lastGood?.delete(f);
  for (const f of files) {
    const file = resolve(join(dir, f));
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue; // removed between readdir and read
    }
    const settled = opts.lastGood !== undefined ? readAsSettled(file, text, opts.lastGood) : { docs: validateManifests(text), problems: [], kept: false };
    if (settled.kept) {
      report.kept.push(file);
      for (const doc of settled.problems) report.problems.push({ file, index: doc.index, kind: doc.kind, ...(doc.name ? { name: doc.name } : {}), problems: doc.problems });
    }
    for (const doc of settled.docs) {
      const where = { file, index: doc.index, kind: doc.kind, ...(doc.name ? { name: doc.name } : {}) };
      if (!doc.ok) {
        report.problems.push({ ...where, problems: doc.problems });
        continue;
      }
      if ('object' in doc) {
        const id = objectId(doc.object);
        const first = seenObjects.get(id);
        if (first) report.problems.push({ ...where, problems: [{ path: 'metadata.name', message: `is already defined in ${first}` }] });
        else {
          seenObjects.set(id, file);
          report.objects.push(doc.object);
        }
        continue;
      }
      if ('mapping' in doc) {
        const m = doc.mapping;
        const first = seenMappings.get(m.metadata.name);
        if (first) report.problems.push({ ...where, problems: [{ path: 'metadata.name', message: `is already defined in ${first}` }] });
        else {
          seenMappings.set(m.metadata.name, file);
          m.metadata.annotations = { ...m.metadata.annotations, [SOURCE_ANNOTATION]: file };
          report.mappings.push(m);
        }
        continue;
      }
      const fn = doc.function;
      const name = fn.metadata.name;
      const first = seen.get(name);
      if (first) {
        report.problems.push({ ...where, problems: [{ path: 'metadata.name', message: `is already defined in ${first}` }] });
        continue;
      }
      seen.set(name, file);
      const refused = opts.refuse?.(fn) ?? [];
      if (refused.length > 0) {
        report.problems.push({ ...where, problems: refused });
        continue;
      }
      fn.metadata.annotations = { ...fn.metadata.annotations, [SOURCE_ANNOTATION]: file };
      report.functions.push(fn);
    }
  }
  return report;
}

/**
 * Brings the catalog in line with a load: sets new and changed functions, deletes vanished ones.
 * A function whose referenced ConfigMaps or Secrets changed (`changedObjects`, ids Kind/name) is set again too.
 */
export function syncCatalog(
  catalog: MemoryCatalog,
  functions: readonly HearthFunction[],
  changedObjects: ReadonlySet<string> = new Set(),
): { added: string[]; changed: string[]; removed: string[] } {
  const next = new Map(functions.map((f) => [f.metadata.name, f]));
  const out = { added: [] as string[], changed: [] as string[], removed: [] as string[] };
  for (const old of catalog.list()) {
    if (!next.has(old.metadata.name)) {
      catalog.delete(old.metadata.name);
      out.removed.push(old.metadata.name);
    }
  }
  for (const [name, fn] of next) {
    const old = catalog.get(name);
    if (!old) out.added.push(name);
    else if (JSON.stringify(old) !== JSON.stringify(fn) || referencedObjects(fn.spec).some((r) => changedObjects.has(objectId(r)))) out.changed.push(name);
    else continue;
    catalog.set(fn);
  }
  return out;
}

export interface FunctionDirWatcher {
  /**
   * Runs `work` between reloads, never during one: a store writing a
   * Function file and setting the catalog cannot be overtaken by a reload
   * that read the file before the write.
   */
  besideReloads<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Aliases that point to versions that do not exist, by function, with the
 * field paths. Such a Function still loads: the rest of it serves, and only
 * calls through that alias answer 404 until the version exists.
 */
export function missingVersionProblems(functions: readonly HearthFunction[], versionsOf: (name: string) => readonly FunctionVersion[]): Map<string, Problem[]> {
  const out = new Map<string, Problem[]>();
  for (const fn of functions) {
    const problems = aliasProblems(fn, versionNumbers(versionsOf(fn.metadata.name)));
    if (problems.length > 0) out.set(fn.metadata.name, problems);
  }
  return out;
}

export async function watchFunctionDir(dir: string, catalog: MemoryCatalog, logger: Logger, opts: FunctionDirOptions = {}): Promise<FunctionDirWatcher> {
  const { objects } = opts;
  const lastGood = new Map<string, string>();
  // Reported when they change, not on every reload.
  let aliasReports = new Map<string, string>();
  let first = true;
  const reload = async () => {
    const report = await loadFunctionDir(dir, { ...(opts.refuse ? { refuse: opts.refuse } : {}), lastGood });
    for (const p of report.problems) {
      for (const problem of p.problems) {
        logger.error(
          { file: p.file, document: p.index, kind: p.kind, name: p.name, field: problem.path },
          `${p.kind}${p.name ? ` ${p.name}` : ''} in ${p.file} not loaded: ${problem.path || '(document)'}: ${problem.message}`,
        );
      }
    }
    for (const file of report.kept) {
      logger.warn({ file }, `${file} is empty or invalid (being written?): what it last defined stays until it loads cleanly`);
    }
    const changedObjects = new Set(objects?.replace(report.objects) ?? []);
    if (changedObjects.size > 0) logger.info({ objects: [...changedObjects] }, 'ConfigMaps and Secrets updated');
    const diff = syncCatalog(catalog, report.functions, changedObjects);
    if (diff.added.length + diff.changed.length + diff.removed.length > 0) logger.info(diff, 'functions updated');
    const initial = first;
    first = false;
    await opts.afterSync?.(initial ? report.functions.map((f) => f.metadata.name) : [...diff.added, ...diff.changed]);
    opts.onMappings?.(report.mappings);
    aliasReports = reportMissingVersions(catalog.list(), catalog, logger, aliasReports);
  };
  await reload();
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const watcher: FSWatcher = watch(dir, { depth: 0, ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 } });
  watcher.on('all', (_event, path) => {
    if (!YAML_FILE.test(path)) return;
    clearTimeout(timer);
    // Editors write files in several steps; one reload after they settle.
    timer = setTimeout(() => {
      running = running.then(reload).catch((err: unknown) => logger.error({ err }, 'reloading functions failed'));
    }, 100);
  });
  await new Promise<void>((res) => watcher.once('ready', () => res()));
  return {
    besideReloads<T>(work: () => Promise<T>): Promise<T> {
      const done = running.then(work);
      running = done.then(
        () => undefined,
        () => undefined,
      );
      return done;
    },
    async close() {
      clearTimeout(timer);
      await watcher.close();
      await running;
    },
  };
}

/** Logs each function's aliases to missing versions once, when what is missing changes; returns what was reported. */
function reportMissingVersions(functions: readonly HearthFunction[], catalog: MemoryCatalog, logger: Logger, before: ReadonlyMap<string, string>): Map<string, string> {
  const now = new Map<string, string>();
  for (const [name, problems] of missingVersionProblems(functions, (n) => catalog.versions(n))) {
    const text = describeProblems(problems);
    now.set(name, text);
    if (before.get(name) === text) continue;
    const file = catalog.get(name)?.metadata.annotations?.[SOURCE_ANNOTATION];
    for (const p of problems) {
      logger.error(
        { file, kind: 'Function', name, field: p.path },
        `Function ${name} in ${file ?? '?'}: ${p.path}: ${p.message}; calls through that alias answer 404 until it exists, the rest of the function serves`,
      );
    }
  }
  return now;
}
