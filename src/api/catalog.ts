// The functions a process knows about: loaded from YAML files (embedded
// platform) or watched from the API server (gateway in a cluster).
import type { HearthFunction } from './function.js';

export interface FunctionCatalog {
  get(name: string): HearthFunction | undefined;
  list(): readonly HearthFunction[];
  /** Called with the function's name when it is added, changed or removed. */
  onChange(listener: (name: string) => void): () => void;
}

/** A catalog held in memory, fed by whoever watches the source of truth. */
export class MemoryCatalog implements FunctionCatalog {
  readonly #fns = new Map<string, HearthFunction>();
  readonly #listeners = new Set<(name: string) => void>();

  get(name: string): HearthFunction | undefined {
    return this.#fns.get(name);
  }

  list(): readonly HearthFunction[] {
    return [...this.#fns.values()];
  }

  set(fn: HearthFunction): void {
    this.#fns.set(fn.metadata.name, fn);
    this.#emit(fn.metadata.name);
  }

  delete(name: string): void {
    if (this.#fns.delete(name)) this.#emit(name);
  }

  onChange(listener: (name: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(name: string): void {
    for (const l of this.#listeners) l(name);
  }
}
