// The functions a process knows about: loaded from YAML files (embedded
// platform) or watched from the API server (gateway in a cluster), with
// their published versions.
import type { HearthFunction } from './function.js';
import type { FunctionVersion } from './function-version.js';

/** Entries by key, with change notices: what the autoscaler, the queue and the gateway's helpers follow. */
export interface Catalog {
  get(name: string): HearthFunction | undefined;
  list(): readonly HearthFunction[];
  /** Called with the entry's key when it is added, changed or removed. */
  onChange(listener: (name: string) => void): () => void;
}

export interface FunctionCatalog extends Catalog {
  /** The function's published versions, oldest first (empty when it has none). A change of them is a change of the function. */
  versions(name: string): readonly FunctionVersion[];
}

/** A catalog held in memory, fed by whoever watches the source of truth. */
export class MemoryCatalog implements FunctionCatalog {
  readonly #fns = new Map<string, HearthFunction>();
  readonly #versions = new Map<string, readonly FunctionVersion[]>();
  readonly #listeners = new Set<(name: string) => void>();

  get(name: string): HearthFunction | undefined {
    return this.#fns.get(name);
  }

  list(): readonly HearthFunction[] {
    return [...this.#fns.values()];
  }

  versions(name: string): readonly FunctionVersion[] {
    return this.#versions.get(name) ?? [];
  }

  set(fn: HearthFunction): void {
    this.#fns.set(fn.metadata.name, fn);
    this.#emit(fn.metadata.name);
  }

  delete(name: string): void {
    if (this.#fns.delete(name)) this.#emit(name);
  }

  /** Replaces the function's published versions (kept even while the function itself is absent, as they may arrive first). */
  setVersions(name: string, versions: readonly FunctionVersion[]): void {
    const sorted = [...versions].sort((a, b) => Number(a.spec.version) - Number(b.spec.version));
    if (sorted.length === 0) this.#versions.delete(name);
    else this.#versions.set(name, sorted);
    this.#emit(name);
  }

  onChange(listener: (name: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(name: string): void {
    for (const l of this.#listeners) l(name);
  }
}
