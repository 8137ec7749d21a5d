// Loads Function YAML files from a directory into a catalog and follows the
// directory: files added, changed or removed add, change or remove functions.
// An invalid document is reported with its field paths and skipped; the
// functions of the other documents keep running.
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { MemoryCatalog } from '../api/catalog.js';
import type { HearthFunction } from '../api/function.js';
import { validateYaml, type Problem } from '../api/validate.js';

/** Annotation recording which file a function came from, so relative paths in it resolve. */
export const SOURCE_ANNOTATION = 'hearth.dev/source-file';

export interface LoadReport {
  functions: HearthFunction[];
  problems: Array<{ file: string; index: number; name?: string; problems: Problem[] }>;
}

const YAML_FILE = /\.ya?ml$/i;

export async function loadFunctionDir(dir: string): Promise<LoadReport> {
  const report: LoadReport = { functions: [], problems: [] };
  const seen = new Map<string, string>();
  const files = (await readdir(dir)).filter((f) => YAML_FILE.test(f)).sort();
  for (const f of files) {
    const file = resolve(join(dir, f));
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue; // removed between readdir and read
    }
    for (const doc of validateYaml(text)) {
      if (!doc.result.ok) {
        report.problems.push({ file, index: doc.index, ...(doc.name ? { name: doc.name } : {}), problems: doc.result.problems });
        continue;
      }
      const fn = doc.result.value;
      const name = fn.metadata.name;
      const first = seen.get(name);
      if (first) {
        report.problems.push({ file, index: doc.index, name, problems: [{ path: 'metadata.name', message: `is already defined in ${first}` }] });
        continue;
      }
      seen.set(name, file);
      fn.metadata.annotations = { ...fn.metadata.annotations, [SOURCE_ANNOTATION]: file };
      report.functions.push(fn);
    }
  }
  return report;
}

/** Brings the catalog in line with a load: sets new and changed functions, deletes vanished ones. */
export function syncCatalog(catalog: MemoryCatalog, functions: readonly HearthFunction[]): { added: string[]; changed: string[]; removed: string[] } {
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
    else if (JSON.stringify(old) !== JSON.stringify(fn)) out.changed.push(name);
    else continue;
    catalog.set(fn);
  }
  return out;
}

export interface FunctionDirWatcher {
  close(): Promise<void>;
}

export async function watchFunctionDir(dir: string, catalog: MemoryCatalog, logger: Logger): Promise<FunctionDirWatcher> {
  const reload = async () => {
    const report = await loadFunctionDir(dir);
    for (const p of report.problems) {
      for (const problem of p.problems) {
        logger.error({ file: p.file, document: p.index, function: p.name, field: problem.path }, `invalid Function: ${problem.path || '(document)'}: ${problem.message}`);
      }
    }
    const diff = syncCatalog(catalog, report.functions);
    if (diff.added.length + diff.changed.length + diff.removed.length > 0) logger.info(diff, 'functions updated');
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
    async close() {
      clearTimeout(timer);
      await watcher.close();
      await running;
    },
  };
}
