// A DirectoryStore over a functions directory, with the catalog and object
// store the embedded platform would give it, and a reload that reads the
// directory into the catalog as the file watcher does. For tests of the
// store and of the routes in front of it.
import { MemoryCatalog } from '../../src/api/catalog.js';
import { ObjectStore } from '../../src/api/object-store.js';
import { loadFunctionDir, syncCatalog, type LoadReport } from '../../src/platform/function-files.js';
import { DirectoryStore } from '../../src/store/directory-store.js';

export interface DirectoryStoreSetup {
  dir: string;
  catalog: MemoryCatalog;
  objects: ObjectStore;
  store: DirectoryStore;
  /** Reads the directory into the catalog as the watcher does; returns what the load found. */
  reload(): Promise<LoadReport>;
}

export async function directoryStoreOn(dir: string): Promise<DirectoryStoreSetup> {
  const catalog = new MemoryCatalog();
  const objects = new ObjectStore(dir);
  const store = new DirectoryStore({ dir, catalog, objects });
  await store.load();
  const reload = async (): Promise<LoadReport> => {
    const report = await loadFunctionDir(dir);
    objects.replace(report.objects);
    syncCatalog(catalog, report.functions);
    return report;
  };
  await reload();
  return { dir, catalog, objects, store, reload };
}
