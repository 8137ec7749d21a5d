// The serving units of every function in a FunctionCatalog, kept in step
// with it: a Catalog keyed by unit key (NAME, NAME:N) whose entries are
// what each unit runs. The backend, the autoscaler, the instance gauge and
// the shared demand follow this one; they need not know versions exist.
import { createHash } from 'node:crypto';
import type { Catalog, FunctionCatalog } from '../api/catalog.js';
import type { HearthFunction } from '../api/function.js';
import { servingUnits, type ServingUnit } from './units.js';

export class UnitCatalog implements Catalog {
  readonly #units = new Map<string, ServingUnit>();
  /** Unit keys by function name. */
  readonly #byFunction = new Map<string, Set<string>>();
  readonly #listeners = new Set<(key: string) => void>();
  readonly #unsubscribe: () => void;
  /** Digest of each function and its versions as last synced, to tell a function set again unchanged. */
  readonly #seen = new Map<string, string>();

  constructor(private readonly functions: FunctionCatalog) {
    for (const fn of functions.list()) this.#sync(fn.metadata.name);
    this.#unsubscribe = functions.onChange((name) => this.#sync(name));
  }

  get(key: string): ServingUnit | undefined {
    return this.#units.get(key);
  }

  list(): readonly ServingUnit[] {
    return [...this.#units.values()];
  }

  /** The unit keys of one function ($LATEST first). */
  keysOf(name: string): readonly string[] {
    return [...(this.#byFunction.get(name) ?? [])];
  }

  onChange(listener: (key: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#unsubscribe();
  }

  #sync(name: string): void {
    const fn = this.functions.get(name);
    const versions = this.functions.versions(name);
    const next = fn ? servingUnits(fn, versions) : [];
    // A function set again exactly as it was is a touch: the loader does it
    // when a ConfigMap or Secret it refers to changed, which no spec shows.
    // Every unit of it is told then, and the backend (which digests what a
    // unit refers to) restarts only those that refer to what changed.
    const seen = fn ? createHash('sha256').update(JSON.stringify([fn, versions])).digest('hex') : undefined;
    const touched = seen !== undefined && this.#seen.get(name) === seen;
    if (seen === undefined) this.#seen.delete(name);
    else this.#seen.set(name, seen);
    const before = this.#byFunction.get(name) ?? new Set<string>();
    const changed: string[] = [];
    const keys = new Set<string>();
    for (const unit of next) {
      const key = unit.metadata.name;
      keys.add(key);
      const old = this.#units.get(key);
      if (old !== undefined && sameUnit(old, unit) && !touched) continue;
      this.#units.set(key, unit);
      changed.push(key);
    }
    for (const key of before) {
      if (keys.has(key)) continue;
      this.#units.delete(key);
      changed.push(key);
    }
    if (keys.size === 0) this.#byFunction.delete(name);
    else this.#byFunction.set(name, keys);
    for (const key of changed) for (const l of this.#listeners) l(key);
  }
}

function sameUnit(a: HearthFunction, b: HearthFunction): boolean {
  return JSON.stringify(a.spec) === JSON.stringify(b.spec);
}
