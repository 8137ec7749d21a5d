// A cache of one kind of object kept current by list-then-watch. The list
// and watch mechanics (resume from the last resourceVersion, relist on
// 410 Gone) are client-node's ListWatch; this adds what it leaves to the
// caller: restarting after an error, with a delay, instead of going quiet.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeRest } from './rest.js';
import { resourcePath, type Resource } from './paths.js';

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  /** Delay before restarting after a failed list or watch (default 1 s). */
  retryMs?: number;
  onError?: (err: unknown) => void;
}

export interface InformerHandlers<T> {
  add?: (obj: T) => void;
  update?: (obj: T) => void;
  delete?: (obj: T) => void;
}

export class Informer<T extends KubernetesObject> {
  readonly #lw: ListWatch<T>;
  readonly #opts: InformerOptions;
  #stopped = false;
  #synced = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(kc: KubeConfig, rest: KubeRest, readonly resource: Resource, opts: InformerOptions = {}) {
    this.#opts = opts;
    const path = resourcePath(resource, opts.namespace);
    const list = async (): Promise<KubernetesListObject<T>> => {
      const l = await rest.request<KubernetesListObject<T>>('GET', path, { query: { labelSelector: opts.labelSelector }, timeoutMs: 120_000 });
      this.#synced = true;
      return l;
    };
    this.#lw = new ListWatch<T>(path, new Watch(kc), list, false, opts.labelSelector);
    this.#lw.on('error', (err?: unknown) => this.#restartLater(err));
  }

  on(h: InformerHandlers<T>): void {
    if (h.add) this.#lw.on('add', h.add);
    if (h.update) this.#lw.on('update', h.update);
    if (h.delete) this.#lw.on('delete', h.delete);
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list is in the cache (or failed; then it retries in the background). */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#lw.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#lw.stop();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#lw.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.#lw.list(namespace);
  }

  #restartLater(err: unknown): void {
    if (this.#stopped) return;
    this.#opts.onError?.(err);
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#stopped) this.#lw.start().catch((e: unknown) => this.#restartLater(e));
    }, this.#opts.retryMs ?? 1000);
    this.#retry.unref();
  }
}
