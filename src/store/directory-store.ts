// Functions, versions and aliases of the embedded platform, kept in its
// functions directory so they survive a restart and travel with the files:
//
//   <dir>/<NAME>.yaml                          a Function made through the API (any *.yaml may hold Functions)
//   <dir>/.hearth/versions/<NAME>/<N>.yaml     a FunctionVersion document
//   <dir>/.hearth/versions/<NAME>/<N>/         the package bytes it runs (read-only copies)
//   <dir>/.hearth/versions/<NAME>/counter      the highest number ever given
//
// A Function's spec and aliases are edited in the YAML file that holds it
// (one file for GitOps), in place, keeping comments and other documents.
// Every write updates the in-memory catalog at once, so routing follows
// within a second rather than after the file watcher's debounce, and the
// API reads its own writes; the watcher's later reload of the same file
// finds nothing changed.
//
// Writes are serialised (one at a time in this process), and a version
// number is claimed by creating its directory, which only one creator can
// do: two publishes never share a number, and a number once given is never
// given again, not even after its version is deleted.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { parse, stringify } from 'yaml';
import type { MemoryCatalog } from '../api/catalog.js';
import type { ConfigObjectSource } from '../api/config-objects.js';
import { API_VERSION, KIND, LIMITS, inlineCodeBytes, type AliasInput, type Alias, type FunctionSpec, type HearthFunction, type PackageSource } from '../api/function.js';
import { FunctionVersionSchema, VERSION_KIND, type FunctionVersion } from '../api/function-version.js';
import { validateManifests } from '../api/manifests.js';
import { describeProblems, problemsOf, type Problem } from '../api/validate.js';
import { buildPackage } from '../packages/build.js';
import { sha256 } from '../packages/digest.js';
import { loadPackage } from '../packages/source.js';
import { loadFunctionDir, SOURCE_ANNOTATION, type LoadReport } from '../platform/function-files.js';
import { referencedVersions } from '../versions/alias-problems.js';
import { versionLabels } from '../versions/labels.js';
import { canonical, latestPublished, nextVersionNumber, snapshotDigest, snapshotOf, versionNumbers, versionsPastRetention } from '../versions/snapshot.js';
import { versionObjectName } from '../versions/units.js';
import { aliasesUsing, changeAlias, removeAlias, type AliasMode } from './alias-change.js';
import { editAliasesInText, type AliasFileEdit } from './alias-file.js';
import { editSpecInText, newFunctionText, removeFunctionFromText, specAsWritten } from './function-file.js';
import { StoreError, type CreateFunctionInput, type FunctionStore, type PublishOptions, type PublishResult, type StoredFunction, type StoredMapping, type UpdateOptions } from './function-store.js';
import { MAPPING_KIND, type EventSourceMapping, type EventSourceMappingSpecInput } from '../api/event-source-mapping.js';
import { editMappingSpecInText, mappingSpecAsWritten, newMappingText, removeMappingFromText } from './mapping-file.js';
import type { FunctionSpecInput } from '../api/function.js';
import { fileObservation, type PreparationState } from './observation.js';

/** Where versions live, under the functions directory. The leading dot keeps the directory watcher (depth 0) and `kubectl apply -f DIR` away. */
export const VERSIONS_DIR = join('.hearth', 'versions');
const VERSION_FILE = /^([1-9][0-9]{0,9})\.yaml$/;

export interface DirectoryStoreOptions {
  /** The functions directory. */
  dir: string;
  /** The catalog the platform serves from: versions and alias changes are set there at once. */
  catalog: MemoryCatalog;
  /** The directory's ConfigMaps: code.configMap, package and layer ConfigMaps are copied into a version from here. */
  objects: ConfigObjectSource;
  logger?: Logger;
  now?: () => Date;
  /** What this platform refuses of a valid Function (the files loader's `refuse`): a create or update it refuses is invalid, a file it refuses shows as a failure. */
  refuse?: (fn: HearthFunction) => Problem[];
  /** The backend's state of a function's $LATEST (preparing its code, or why that failed), for the observation. */
  preparation?: (name: string) => PreparationState | undefined;
}

/** Tries of an update whose file another writer changed meanwhile. */
const MAX_EDIT_ATTEMPTS = 5;

/** A Function as the directory stores it: where, at which revision, and what keeps it from loading. */
interface Located {
  fn: HearthFunction;
  file: string;
  revision: string;
  problems: Problem[];
}

/** Runs a write of a Function file so that no reload of the functions directory reads the file meanwhile. */
export type BesideReloads = <T>(work: () => Promise<T>) => Promise<T>;

/** What a version runs that the spec only names: package bytes to copy beside it, and what the digest covers. */
interface Frozen {
  digest: string;
  /** The snapshot as it will be stored, given the directory the copies go to. */
  snapshot: (copiesDir: string) => FunctionSpec;
  copies: Array<{ file: string; bytes: Buffer }>;
}

export class DirectoryStore implements FunctionStore {
  readonly #root: string;
  readonly #versions = new Map<string, FunctionVersion[]>();
  readonly #counters = new Map<string, number>();
  #chain: Promise<unknown> = Promise.resolve();
  #besideReloads: BesideReloads = (work) => work();

  constructor(private readonly opts: DirectoryStoreOptions) {
    this.#root = resolve(opts.dir, VERSIONS_DIR);
  }
  async getFunction(name: string): Promise<StoredFunction> {
    const located = (await this.#scan()).found.get(name);
    if (located === undefined) throw new StoreError('not-found', `Function not found: ${name}`);
    return this.#stored(located);
  }

  async listFunctions(): Promise<StoredFunction[]> {
    const { found } = await this.#scan();
    const names = [...found.keys()].sort();
    return Promise.all(names.map((n) => this.#stored(found.get(n) as Located)));
  }

  async createFunction(input: CreateFunctionInput): Promise<StoredFunction> {
    const { name } = input;
    const text = newFunctionText(name, input.spec, input.labels);
    // Validated before the name makes a path: an invalid name is refused with its problem, never written.
    const valid = this.#validated(text, name);
    const file = resolve(this.opts.dir, `${name}.yaml`);
    const fn = annotated(valid, file);
    const stored = await this.#besideReloads(() =>
      this.#serial(async () => {
        const { found, report } = await this.#scan();
        // Any document of that name counts, even one that does not load now: writing a second would leave one of them ignored.
        if (found.has(name) || report.problems.some((p) => p.kind === KIND && p.name === name)) {
          throw new StoreError('conflict', `Function already exist: ${name}`);
        }
        await createExclusive(file, text);
        this.opts.catalog.set(fn);
        this.opts.logger?.info({ function: name, file }, `function ${name} created in ${file}`);
        return this.#stored({ fn, file, revision: revisionOf(fn), problems: [] });
      }),
    );
    await this.publishChanged([name]);
    return stored;
  }

  async updateFunction(name: string, edit: (spec: FunctionSpecInput) => FunctionSpecInput, opts: UpdateOptions = {}): Promise<StoredFunction> {
    const stored = await this.#besideReloads(() =>
      this.#serial(async () => {
        for (let attempt = 1; ; attempt++) {
          const located = (await this.#scan()).found.get(name);
          if (located === undefined) throw new StoreError('not-found', `Function not found: ${name}`);
          const { file } = located;
          const text = await this.#readFunctionText(name, file);
          const revision = revisionIn(text, name, file);
          if (opts.expectedRevision !== undefined && opts.expectedRevision !== revision) {
            throw new StoreError('precondition', `function ${name} has changed: its revision is ${revision}, not ${opts.expectedRevision}`);
          }
          const written = specAsWritten(text, name);
          if (written === undefined) throw new StoreError('conflict', `${file} does not parse as YAML now, so Function ${name} cannot be edited; fix it first`);
          const edited = editSpecInText(text, name, edit(structuredClone(written)));
          if (!edited.ok) throw new StoreError('conflict', `${file}: ${edited.reason}`);
          const fn = annotated(this.#validated(edited.text, name), file);
          // Someone else (an editor, another process) wrote the file meanwhile: edit what they wrote.
          if ((await this.#readFunctionText(name, file)) !== text) {
            if (attempt >= MAX_EDIT_ATTEMPTS) throw new StoreError('conflict', `${file} kept changing while function ${name} was being updated`);
            continue;
          }
          if (edited.text !== text) await writeAtomic(file, edited.text, (await stat(file)).mode & 0o777);
          if (JSON.stringify(this.opts.catalog.get(name)) !== JSON.stringify(fn)) this.opts.catalog.set(fn);
          this.opts.logger?.info({ function: name, file }, `function ${name} updated in ${file}`);
          return this.#stored({ fn, file, revision: revisionOf(fn), problems: [] });
        }
      }),
    );
    await this.publishChanged([name]);
    return stored;
  }

  deleteFunction(name: string): Promise<void> {
    return this.#besideReloads(() =>
      this.#serial(async () => {
        const located = (await this.#scan()).found.get(name);
        if (located === undefined) throw new StoreError('not-found', `Function not found: ${name}`);
        const { file } = located;
        const removed = removeFunctionFromText(await this.#readFunctionText(name, file), name);
        if (!removed.ok) throw new StoreError('conflict', `${file} does not parse as YAML now, so Function ${name} cannot be removed from it; fix it first`);
        if (removed.empty === true) {
          await unlink(file).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err;
          });
        } else {
          await writeAtomic(file, removed.text, (await stat(file)).mode & 0o777);
        }
        this.opts.catalog.delete(name);
        // Then its versions and their package copies: a crash in between leaves versions without a function, never a function whose versions are half gone.
        await rm(this.#dirOf(name), { recursive: true, force: true });
        this.#versions.delete(name);
        this.#counters.delete(name);
        this.opts.catalog.setVersions(name, []);
        this.opts.logger?.info({ function: name, file }, `function ${name} deleted${removed.empty === true ? ` with ${file}` : ` from ${file}`}, with its versions`);
      }),
    );
  }

  // EventSourceMappings: a file of their own, <NAME>.esm.yaml, for those the API creates; any file's are edited in place.
  async listMappings(): Promise<StoredMapping[]> {
    const { mappings } = await loadFunctionDir(this.opts.dir);
    const out = await Promise.all(mappings.map((m) => storedMapping(m)));
    return out.sort((a, b) => (a.mapping.metadata.name < b.mapping.metadata.name ? -1 : 1));
  }

  async createMapping(name: string, spec: EventSourceMappingSpecInput): Promise<StoredMapping> {
    const text = newMappingText(name, spec);
    const valid = mappingInText(text, name);
    const file = resolve(this.opts.dir, `${name}.esm.yaml`);
    return this.#besideReloads(() =>
      this.#serial(async () => {
        const report = await loadFunctionDir(this.opts.dir);
        // A document of that name that does not load counts too: a second one would be ignored.
        if (report.mappings.some((m) => m.metadata.name === name) || report.problems.some((p) => p.kind === MAPPING_KIND && p.name === name)) {
          throw new StoreError('conflict', `EventSourceMapping ${name} exists already`);
        }
        await createExclusive(file, text);
        this.opts.logger?.info({ mapping: name, file }, `event-source mapping ${name} created in ${file}`);
        return storedMapping(annotatedMapping(valid, file));
      }),
    );
  }

  updateMapping(name: string, edit: (spec: EventSourceMappingSpecInput) => EventSourceMappingSpecInput): Promise<StoredMapping> {
    return this.#besideReloads(() =>
      this.#serial(async () => {
        const { file, text } = await this.#mappingFile(name);
        const written = mappingSpecAsWritten(text, name);
        if (written === undefined) throw new StoreError('conflict', `${file} does not define EventSourceMapping ${name} cleanly now; fix it first`);
        const edited = editMappingSpecInText(text, name, edit(structuredClone(written)));
        if (!edited.ok) throw new StoreError('conflict', `${file}: ${edited.reason}`);
        const m = mappingInText(edited.text, name);
        if (edited.text !== text) await writeAtomic(file, edited.text, (await stat(file)).mode & 0o777);
        this.opts.logger?.info({ mapping: name, file }, `event-source mapping ${name} updated in ${file}`);
        return storedMapping(annotatedMapping(m, file));
      }),
    );
  }

  deleteMapping(name: string): Promise<void> {
    return this.#besideReloads(() =>
      this.#serial(async () => {
        const { file, text } = await this.#mappingFile(name);
        const removed = removeMappingFromText(text, name);
        if (!removed.ok) throw new StoreError('conflict', `${file}: ${removed.reason}`);
        if (removed.empty === true) {
          await unlink(file).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOENT') throw err;
          });
        } else {
          await writeAtomic(file, removed.text, (await stat(file)).mode & 0o777);
        }
        this.opts.logger?.info({ mapping: name, file }, `event-source mapping ${name} deleted${removed.empty === true ? ` with ${file}` : ` from ${file}`}`);
      }),
    );
  }

  async #mappingFile(name: string): Promise<{ file: string; text: string }> {
    const m = (await loadFunctionDir(this.opts.dir)).mappings.find((x) => x.metadata.name === name);
    const file = m?.metadata.annotations?.[SOURCE_ANNOTATION];
    if (m === undefined || file === undefined) throw new StoreError('not-found', `EventSourceMapping not found: ${name}`);
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new StoreError('not-found', `EventSourceMapping not found: ${name}`);
      throw err;
    });
    return { file, text };
  }

  /** Hooks alias writes into the directory watcher's reloads (see watchFunctionDir's besideReloads). */
  writeBesideReloads(run: BesideReloads): void {
    this.#besideReloads = run;
  }

  /** Reads every stored version into the catalog; call before the functions are loaded. */
  async load(): Promise<void> {
    const names = await readdir(this.#root).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    for (const name of names.sort()) {
      const st = await stat(join(this.#root, name)).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      const versions = await this.#readVersions(name);
      this.#counters.set(name, await this.#readCounter(name));
      this.#versions.set(name, versions);
      if (versions.length > 0) this.opts.catalog.setVersions(name, versions);
    }
  }

  publishVersion(name: string, opts: PublishOptions = {}): Promise<PublishResult> {
    return this.#serial(async () => {
      const fn = this.#function(name);
      const frozen = await this.#freeze(fn);
      if (opts.expectedDigest !== undefined && opts.expectedDigest.toLowerCase() !== frozen.digest) {
        throw new StoreError('precondition', `CodeSha256 ${opts.expectedDigest} does not match the function's current code and configuration (${frozen.digest})`);
      }
      const existing = this.#versions.get(name) ?? [];
      const latest = latestPublished(existing);
      if (latest !== undefined && latest.spec.codeSha256 === frozen.digest) return { version: latest, created: false };
      const version = await this.#write(fn, frozen, opts.description);
      const versions = [...existing, version];
      this.#versions.set(name, versions);
      this.opts.catalog.setVersions(name, versions);
      this.opts.logger?.info({ function: name, version: version.spec.version }, `published ${name} version ${version.spec.version}`);
      await this.#retain(fn);
      return { version, created: true };
    });
  }

  async listVersions(name: string): Promise<FunctionVersion[]> {
    this.#function(name);
    return [...(this.#versions.get(name) ?? [])];
  }

  deleteVersion(name: string, version: string): Promise<void> {
    return this.#serial(async () => {
      const fn = this.#function(name);
      const users = aliasesUsing(fn, version);
      if (users.length > 0) {
        throw new StoreError('conflict', `Version ${version} of ${name} cannot be deleted: alias${users.length > 1 ? 'es' : ''} ${users.join(', ')} point${users.length > 1 ? '' : 's'} to it`);
      }
      await this.#delete(name, version);
    });
  }

  async listAliases(name: string): Promise<Alias[]> {
    return [...(this.#function(name).spec.aliases ?? [])];
  }

  putAlias(name: string, alias: AliasInput, mode: AliasMode): Promise<Alias> {
    return this.#besideReloads(() =>
      this.#serial(async () => {
        const { file, text, fn } = await this.#functionFile(name);
        const change = changeAlias(fn, this.#published(name), alias, mode);
        await this.#writeFunctionFile(name, file, text, { kind: 'put', index: change.index, alias: change.alias });
        this.opts.logger?.info({ function: name, alias: change.alias }, `alias ${name}:${change.alias.name} ${change.existed ? 'updated' : 'created'}`);
        return change.alias;
      }),
    );
  }

  deleteAlias(name: string, alias: string): Promise<void> {
    return this.#besideReloads(() =>
      this.#serial(async () => {
        const { file, text, fn } = await this.#functionFile(name);
        const { index } = removeAlias(fn, alias);
        await this.#writeFunctionFile(name, file, text, { kind: 'delete', index });
        this.opts.logger?.info({ function: name, alias }, `alias ${name}:${alias} deleted`);
      }),
    );
  }

  /**
   * versioning.publishOnChange: publishes those of `names` that ask for it
   * (nothing when their code and configuration match their latest version).
   * Failures are logged, not thrown: the function keeps serving as $LATEST.
   */
  async publishChanged(names: readonly string[]): Promise<void> {
    for (const name of names) {
      const fn = this.opts.catalog.get(name);
      if (fn?.spec.versioning.publishOnChange !== true) continue;
      try {
        await this.publishVersion(name, { description: 'published on change' });
      } catch (err) {
        this.opts.logger?.error({ err, function: name }, `publishing ${name} on change failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * Every Function the directory's files define now, read as the files
   * loader reads them (first definition of a name wins), with what keeps
   * each from loading. A Function whose document does not load any more is
   * the one the catalog still serves from that file (the watcher keeps a
   * file's last clean text), with the problems of its file.
   */
  async #scan(): Promise<{ found: Map<string, Located>; report: LoadReport }> {
    const report = await loadFunctionDir(this.opts.dir);
    const found = new Map<string, Located>();
    for (const fn of report.functions) {
      const file = fn.metadata.annotations?.[SOURCE_ANNOTATION] ?? '';
      found.set(fn.metadata.name, { fn, file, revision: revisionOf(fn), problems: this.opts.refuse?.(fn) ?? [] });
    }
    for (const kept of this.opts.catalog.list()) {
      const name = kept.metadata.name;
      const file = kept.metadata.annotations?.[SOURCE_ANNOTATION];
      if (found.has(name) || file === undefined) continue;
      // Its own document's problems, or the file's when it does not parse at all (no name then).
      const problems = report.problems.filter((p) => p.file === file && (p.name === name || p.name === undefined)).flatMap((p) => p.problems);
      if (problems.length === 0) continue; // removed from its file: the watcher removes it next
      const text = await readFile(file, 'utf8').catch(() => '');
      found.set(name, { fn: kept, file, revision: revisionIn(text, name, file), problems });
    }
    return { found, report };
  }

  async #stored(located: Located): Promise<StoredFunction> {
    const name = located.fn.metadata.name;
    const served = this.opts.catalog.get(name);
    const mtime = await stat(located.file).then(
      (st) => st.mtime.toISOString(),
      () => undefined,
    );
    const preparation = served !== undefined ? this.opts.preparation?.(name) : undefined;
    return {
      fn: located.fn,
      revision: located.revision,
      ...(mtime !== undefined ? { lastModified: mtime } : {}),
      observation: fileObservation({
        served: served !== undefined,
        sameAsStored: served !== undefined && canonical(served.spec) === canonical(located.fn.spec),
        problems: located.problems,
        ...(preparation !== undefined ? { preparation } : {}),
      }),
    };
  }

  /** Function `name` as `text` defines it, or why it is invalid (field paths), as the files loader and this platform judge it. */
  #validated(text: string, name: string): HearthFunction {
    const doc = validateManifests(text).find((d) => d.kind === KIND && d.name === name);
    if (doc === undefined || !doc.ok || !('function' in doc)) {
      const problems = doc !== undefined && !doc.ok ? doc.problems : [{ path: '', message: `is not a Function named ${name}` }];
      throw new StoreError('invalid', `Function ${name} is invalid: ${describeProblems(problems)}`, problems);
    }
    const refused = this.opts.refuse?.(doc.function) ?? [];
    if (refused.length > 0) throw new StoreError('invalid', `Function ${name} cannot run here: ${describeProblems(refused)}`, refused);
    return doc.function;
  }

  async #readFunctionText(name: string, file: string): Promise<string> {
    return readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new StoreError('not-found', `Function not found: ${name}`);
      throw err;
    });
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  #function(name: string): HearthFunction {
    const fn = this.opts.catalog.get(name);
    if (fn === undefined) throw new StoreError('not-found', `Function not found: ${name}`);
    return fn;
  }

  #published(name: string): Set<string> {
    return versionNumbers(this.#versions.get(name) ?? []);
  }

  #dirOf(name: string): string {
    return join(this.#root, name);
  }

  async #readVersions(name: string): Promise<FunctionVersion[]> {
    const dir = this.#dirOf(name);
    const out: FunctionVersion[] = [];
    for (const f of await readdir(dir)) {
      const m = VERSION_FILE.exec(f);
      if (!m) continue;
      const file = join(dir, f);
      try {
        const parsed = FunctionVersionSchema.safeParse(parse(await readFile(file, 'utf8')));
        if (!parsed.success) {
          this.opts.logger?.error({ file, problems: problemsOf(parsed.error) }, `${file} is not a valid FunctionVersion; version ${m[1]} of ${name} is not loaded`);
          continue;
        }
        if (parsed.data.spec.function !== name || parsed.data.spec.version !== m[1]) {
          this.opts.logger?.error({ file }, `${file} holds version ${parsed.data.spec.version} of ${parsed.data.spec.function}, not version ${m[1]} of ${name}; not loaded`);
          continue;
        }
        out.push(parsed.data);
      } catch (err) {
        this.opts.logger?.error({ err, file }, `${file} cannot be read; version ${m[1]} of ${name} is not loaded`);
      }
    }
    return out.sort((a, b) => Number(a.spec.version) - Number(b.spec.version));
  }

  async #readCounter(name: string): Promise<number> {
    const text = await readFile(join(this.#dirOf(name), 'counter'), 'utf8').catch(() => '0');
    const n = Number(text.trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  }

  /**
   * What publishing `fn` now would keep: the digest of its snapshot and of
   * the bytes the snapshot only names (packages, ConfigMap code), and those
   * bytes. A version never reads the functions directory again: a package
   * file replaced behind the same path is a new version, not a changed one.
   */
  async #freeze(fn: HearthFunction): Promise<Frozen> {
    const name = fn.metadata.name;
    const base = snapshotOf(fn.spec);
    const file = fn.metadata.annotations?.[SOURCE_ANNOTATION];
    const baseDir = file === undefined ? undefined : dirname(file);
    const ctx = { ...(baseDir !== undefined ? { baseDir } : {}), objects: this.opts.objects };
    const extras: string[] = [];
    const copies: Frozen['copies'] = [];
    const invalid = (path: string, message: string) => new StoreError('invalid', `${name}: ${path}: ${message}`, [{ path, message }]);

    const freezePackage = async (src: PackageSource, field: string, copyName: string): Promise<((dir: string) => PackageSource) | undefined> => {
      // A URL is pinned by its sha256 already, which the snapshot holds.
      if (src.url !== undefined) return () => src;
      let loaded;
      try {
        loaded = await loadPackage(src, ctx);
      } catch (err) {
        throw invalid(field, (err as Error).message);
      }
      if (loaded === undefined) {
        extras.push(`${field}:absent`);
        return undefined;
      }
      extras.push(`${field}:${loaded.sha256}`);
      copies.push({ file: copyName, bytes: loaded.bytes });
      const sha = loaded.sha256;
      return (dir) => ({ path: join(dir, copyName), sha256: sha });
    };

    let code: (dir: string) => FunctionSpec['code'] = () => base.code;
    if (base.code.configMap !== undefined) {
      const cm = base.code.configMap.name;
      const entries = this.opts.objects.entries('ConfigMap', cm);
      if (typeof entries === 'string') throw invalid('spec.code.configMap', entries);
      const keys = [...entries.keys()].sort();
      for (const k of keys) extras.push(`spec.code.configMap:${k}:${sha256(entries.get(k)?.bytes ?? Buffer.alloc(0))}`);
      const texts: Record<string, string> = {};
      for (const k of keys) {
        const t = entries.get(k)?.text;
        if (t !== undefined) texts[k] = t;
      }
      if (keys.length > 0 && Object.keys(texts).length === keys.length && inlineCodeBytes(texts) <= LIMITS.inlineCodeBytes) {
        code = () => ({ inline: texts });
      } else {
        // Binary keys, or more than inline code may hold: the same files as a package.
        const zip = await this.#zipOf(entries);
        copies.push({ file: 'code.zip', bytes: zip });
        const sha = sha256(zip);
        code = (dir) => ({ package: { path: join(dir, 'code.zip'), sha256: sha } });
      }
    } else if (base.code.package !== undefined) {
      const pkg = await freezePackage(base.code.package, 'spec.code.package', 'code.zip');
      if (pkg === undefined) throw invalid('spec.code.package', `ConfigMap ${base.code.package.configMap?.name ?? ''} does not exist; a version needs its code`);
      code = (dir) => ({ package: pkg(dir) });
    }
    const layers: Array<(dir: string) => PackageSource> = [];
    for (const [i, l] of (base.layers ?? []).entries()) {
      const frozen = await freezePackage(l, `spec.layers[${i}]`, `layer-${i}.zip`);
      if (frozen !== undefined) layers.push(frozen);
    }
    return {
      digest: snapshotDigest(base, extras.join('\n')),
      copies,
      snapshot: (dir) => ({ ...base, code: code(dir), ...(base.layers !== undefined ? { layers: layers.map((l) => l(dir)) } : {}) }),
    };
  }

  async #zipOf(entries: ReadonlyMap<string, { bytes: Buffer }>): Promise<Buffer> {
    const tmp = join(this.#root, `.zip-${randomBytes(6).toString('hex')}.tmp`);
    await mkdir(tmp, { recursive: true });
    try {
      for (const [k, v] of entries) await writeFile(join(tmp, k), v.bytes);
      return (await buildPackage(tmp)).zip;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Claims the next number (its directory), copies the packages into it, then writes the version document and the counter. */
  async #write(fn: HearthFunction, frozen: Frozen, description: string | undefined): Promise<FunctionVersion> {
    const name = fn.metadata.name;
    const dir = this.#dirOf(name);
    await mkdir(dir, { recursive: true });
    let n = nextVersionNumber(this.#counters.get(name) ?? 0, this.#versions.get(name) ?? []);
    // Another process over the same directory, or a publish that crashed after claiming: that number is taken, take the next.
    for (;;) {
      try {
        await mkdir(join(dir, String(n)));
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        n++;
      }
    }
    const v = String(n);
    const counter = Math.max(n, await this.#readCounter(name));
    this.#counters.set(name, counter);
    await writeAtomic(join(dir, 'counter'), `${counter}\n`);
    const copiesDir = join(dir, v);
    for (const c of frozen.copies) {
      const path = join(copiesDir, c.file);
      await writeFile(path, c.bytes);
      await chmod(path, 0o444);
    }
    const doc = {
      apiVersion: API_VERSION,
      kind: VERSION_KIND,
      metadata: {
        name: versionObjectName(name, v),
        labels: versionLabels(name, v),
        creationTimestamp: (this.opts.now?.() ?? new Date()).toISOString(),
      },
      spec: {
        function: name,
        version: v,
        ...(description !== undefined && description !== '' ? { description } : {}),
        codeSha256: frozen.digest,
        snapshot: frozen.snapshot(copiesDir),
      },
    };
    const parsed = FunctionVersionSchema.safeParse(doc);
    if (!parsed.success) {
      const problems = problemsOf(parsed.error);
      throw new StoreError('invalid', `version ${v} of ${name} would not be valid: ${describeProblems(problems)}`, problems);
    }
    await writeAtomic(join(dir, `${v}.yaml`), stringify(doc));
    return parsed.data;
  }

  async #delete(name: string, version: string): Promise<void> {
    const existing = this.#versions.get(name) ?? [];
    if (!existing.some((v) => v.spec.version === version)) throw new StoreError('not-found', `Function not found: ${name}:${version}`);
    const dir = this.#dirOf(name);
    // The document first: a crash between the two leaves copies no version names, never a version without its code.
    await unlink(join(dir, `${version}.yaml`)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await rm(join(dir, version), { recursive: true, force: true });
    const versions = existing.filter((v) => v.spec.version !== version);
    this.#versions.set(name, versions);
    this.opts.catalog.setVersions(name, versions);
    this.opts.logger?.info({ function: name, version }, `deleted ${name} version ${version}`);
  }

  /** versioning.retain: the oldest versions past the count that no alias points to go. */
  async #retain(fn: HearthFunction): Promise<void> {
    const name = fn.metadata.name;
    const past = versionsPastRetention(this.#versions.get(name) ?? [], fn.spec.versioning.retain, referencedVersions(fn));
    for (const v of past) await this.#delete(name, v.spec.version);
  }

  /** The Function's file as it is now, and the Function as that text defines it. */
  async #functionFile(name: string): Promise<{ file: string; text: string; fn: HearthFunction }> {
    const file = this.#function(name).metadata.annotations?.[SOURCE_ANNOTATION];
    if (file === undefined) throw new StoreError('conflict', `${name} was not loaded from a file, so its aliases cannot be written`);
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new StoreError('conflict', `${file}, where ${name} is defined, cannot be read (${err.code ?? err.message})`);
    });
    return { file, text, fn: functionInText(text, name, file) };
  }

  /** Writes the edited file (temp + rename) and sets the Function it now defines in the catalog. */
  async #writeFunctionFile(name: string, file: string, text: string, edit: AliasFileEdit): Promise<void> {
    const edited = editAliasesInText(text, name, edit);
    if (!edited.ok) throw new StoreError('conflict', `${file}: ${edited.reason}`);
    const fn = functionInText(edited.text, name, file);
    const mode = (await stat(file)).mode & 0o777;
    await writeAtomic(file, edited.text, mode);
    this.opts.catalog.set(fn);
  }
}

/**
 * Function `name` as `text` defines it, annotated with its file exactly as
 * the directory loader annotates it, so the loader's later reload of the
 * same text finds it unchanged.
 */
function functionInText(text: string, name: string, file: string): HearthFunction {
  const doc = validateManifests(text).find((d) => d.name === name && d.kind === 'Function');
  if (doc === undefined) throw new StoreError('conflict', `${file} no longer defines Function ${name}`);
  if (!doc.ok) {
    throw new StoreError('conflict', `${file} does not load cleanly now (${doc.problems.map((p) => `${p.path || '(document)'}: ${p.message}`).join('; ')}); fix it first`);
  }
  if (!('function' in doc)) throw new StoreError('conflict', `${file} no longer defines Function ${name}`);
  return annotated(doc.function, file);
}

/** The Function annotated with its file exactly as the directory loader annotates it, so the loader's later reload of the same text finds it unchanged. */
function annotated(fn: HearthFunction, file: string): HearthFunction {
  fn.metadata.annotations = { ...fn.metadata.annotations, [SOURCE_ANNOTATION]: file };
  return fn;
}

/** A stored Function's revision: the digest of what it defines, so reformatting or a comment changes nothing, and any change of a field does. */
function revisionOf(fn: HearthFunction): string {
  return createHash('sha256').update(canonical(fn)).digest('hex');
}

/** The revision of Function `name` in the text of `file`: of what it defines, or of the text itself while its document does not load. */
function revisionIn(text: string, name: string, file: string): string {
  const doc = validateManifests(text).find((d) => d.kind === KIND && d.name === name);
  if (doc?.ok === true && 'function' in doc) return revisionOf(annotated(doc.function, file));
  return createHash('sha256').update(text).digest('hex');
}

/** Mapping `name` as `text` defines it, or why it is invalid (field paths), as the files loader judges it. */
function mappingInText(text: string, name: string): EventSourceMapping {
  const doc = validateManifests(text).find((d) => d.kind === MAPPING_KIND && d.name === name);
  if (doc === undefined || !doc.ok || !('mapping' in doc)) {
    const problems = doc !== undefined && !doc.ok ? doc.problems : [{ path: '', message: `is not an EventSourceMapping named ${name}` }];
    throw new StoreError('invalid', `EventSourceMapping ${name} is invalid: ${describeProblems(problems)}`, problems);
  }
  return doc.mapping;
}

function annotatedMapping(m: EventSourceMapping, file: string): EventSourceMapping {
  m.metadata.annotations = { ...m.metadata.annotations, [SOURCE_ANNOTATION]: file };
  return m;
}

/** A mapping of the directory with its revision (a digest of what it defines) and its file's time. */
async function storedMapping(m: EventSourceMapping): Promise<StoredMapping> {
  const file = m.metadata.annotations?.[SOURCE_ANNOTATION];
  const mtime = file === undefined ? undefined : await stat(file).then((st) => st.mtime.toISOString(), () => undefined);
  return { mapping: m, revision: createHash('sha256').update(canonical(m)).digest('hex'), ...(mtime !== undefined ? { lastModified: mtime } : {}) };
}

/** A new file, or none: written under a name the watcher ignores, then linked to its name, which fails if that name is taken. */
async function createExclusive(path: string, data: string): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, data);
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreError('conflict', `${path} exists already; a new function of that name would overwrite it`);
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** A whole file or none: written under a name the directory watcher ignores, then renamed over the old one. */
async function writeAtomic(path: string, data: string, mode?: number): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  await writeFile(tmp, data, mode !== undefined ? { mode } : {});
  await rename(tmp, path);
}
