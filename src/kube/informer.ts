// A cache of one kind of object kept current by list-then-watch: list (in
// pages), watch from the list's resourceVersion, resume a watch that ended
// from the last version seen, list again on 410 Gone, and restart after an
// error with a delay instead of going quiet. Handlers hear add, update (a
// new resourceVersion) and delete, as client-node's ListWatch told them.
// Written on KubeRest rather than on client-node's ListWatch, whose module
// graph (every generated model) cost the controller ~65 MiB resident.
// `transform` runs on every object before it is cached or handed over, so a
// cache keeps only what its readers need (no managedFields, no pod specs).
import type http from 'node:http';
import type { KubeRest } from './rest.js';
import { KubeApiError } from './rest.js';
import { resourcePath, type Resource } from './paths.js';

/** The least an informer needs of an object: client-node's KubernetesObject and the wire objects fit. */
export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface InformerOptions<T = unknown> {
  namespace?: string;
  labelSelector?: string;
  /** Delay before restarting after a failed list or watch (default 1 s). */
  retryMs?: number;
  onError?: (err: unknown) => void;
  /** What the cache keeps of each object (default: the object without metadata.managedFields, which no reader uses). */
  transform?: (obj: T) => T;
  /** An index (such as a label's value) that byIndex answers without scanning the namespace: a reconcile asks for one function's pods. */
  indexBy?: (obj: T) => string | undefined;
}

export interface InformerHandlers<T> {
  add?: (obj: T) => void;
  update?: (obj: T) => void;
  delete?: (obj: T) => void;
}

interface ListPage<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T & { code?: number };
}

/** Objects per list page: bounds the text parsed at once (client-go's pager uses 500). */
const PAGE = 250;
/** A watch asks the server to end it after 5-10 minutes (client-go's spread), so a connection silently lost is noticed. */
const WATCH_MIN_S = 300;

/** Drops metadata.managedFields: the server's field ownership bookkeeping, often the largest part of a small object. */
export function withoutManagedFields<T>(obj: T): T {
  const md = (obj as { metadata?: { managedFields?: unknown } }).metadata;
  if (md?.managedFields === undefined) return obj;
  const { managedFields: _m, ...metadata } = md;
  return { ...obj, metadata };
}

export class Informer<T extends KubernetesObject> {
  readonly #rest: KubeRest;
  readonly #path: string;
  readonly #opts: InformerOptions<T>;
  readonly #transform: (obj: T) => T;
  /** By namespace ('' for cluster-scoped), then name. */
  #objects = new Map<string, Map<string, T>>();
  /** By namespace NUL index value, then name; only with opts.indexBy. */
  readonly #index = new Map<string, Map<string, T>>();
  readonly #handlers: Required<InformerHandlers<T>>[] = [];
  #resourceVersion = '';
  #stopped = false;
  #synced = false;
  #retry: NodeJS.Timeout | undefined;
  #watch: AbortController | undefined;
  #running = false;

  /** The credentials are `rest`'s. */
  constructor(rest: KubeRest, readonly resource: Resource, opts: InformerOptions<T> = {}) {
    this.#rest = rest;
    this.#opts = opts;
    this.#path = resourcePath(resource, opts.namespace);
    this.#transform = opts.transform ?? withoutManagedFields;
  }

  on(h: InformerHandlers<T>): void {
    const none = (): void => undefined;
    this.#handlers.push({ add: h.add ?? none, update: h.update ?? none, delete: h.delete ?? none });
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Resolves once the first list is in the cache (or failed; then it retries in the background). */
  async start(): Promise<void> {
    this.#stopped = false;
    try {
      if (this.#resourceVersion === '') await this.#list();
    } catch (err) {
      this.#restartLater(err);
      return;
    }
    this.#watchLoop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#watch?.abort();
    this.#watch = undefined;
    return Promise.resolve();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#objects.get(namespace ?? '')?.get(name);
  }

  /** The objects of the namespace whose indexBy value is `value`. */
  byIndex(namespace: string, value: string): readonly T[] {
    if (this.#opts.indexBy === undefined) throw new Error('byIndex needs the indexBy option');
    const m = this.#index.get(`${namespace}\u0000${value}`);
    return m === undefined ? [] : [...m.values()];
  }

  #indexSet(obj: T, add: boolean): void {
    const value = this.#opts.indexBy?.(obj);
    if (value === undefined) return;
    const { ns, name } = keyOf(obj);
    const k = `${ns}\u0000${value}`;
    let m = this.#index.get(k);
    if (add) {
      if (m === undefined) this.#index.set(k, (m = new Map()));
      m.set(name, obj);
    } else if (m !== undefined) {
      m.delete(name);
      if (m.size === 0) this.#index.delete(k);
    }
  }

  list(namespace?: string): readonly T[] {
    if (namespace === undefined || namespace === '') return [...this.#objects.values()].flatMap((m) => [...m.values()]);
    const m = this.#objects.get(namespace);
    return m === undefined ? [] : [...m.values()];
  }

  async #list(): Promise<void> {
    const seen = new Map<string, Map<string, T>>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.#rest.request<ListPage<T>>('GET', this.#path, {
        query: { labelSelector: this.#opts.labelSelector, limit: PAGE, continue: cont },
        timeoutMs: 120_000,
      });
      if (rv === '') rv = page.metadata?.resourceVersion ?? '';
      cont = page.metadata?.continue || undefined;
      for (const raw of page.items ?? []) {
        const obj = this.#transform(raw);
        const { ns, name } = keyOf(obj);
        let m = seen.get(ns);
        if (m === undefined) seen.set(ns, (m = new Map()));
        m.set(name, obj);
      }
    } while (cont !== undefined);
    // What the cache held and the list no longer has was deleted meanwhile; the rest is added or updated as a watch event would be.
    for (const [ns, m] of this.#objects) {
      for (const [name, obj] of m) {
        if (seen.get(ns)?.has(name) === true) continue;
        m.delete(name);
        this.#indexSet(obj, false);
        for (const h of this.#handlers) h.delete(obj);
      }
      if (m.size === 0) this.#objects.delete(ns);
    }
    for (const m of seen.values()) for (const obj of m.values()) this.#upsert(obj);
    this.#resourceVersion = rv;
    this.#synced = true;
  }

  #upsert(obj: T): void {
    const { ns, name } = keyOf(obj);
    let m = this.#objects.get(ns);
    if (m === undefined) this.#objects.set(ns, (m = new Map()));
    const found = m.get(name);
    if (found === undefined) {
      m.set(name, obj);
      this.#indexSet(obj, true);
      for (const h of this.#handlers) h.add(obj);
      return;
    }
    const rv = found.metadata?.resourceVersion;
    if (rv !== undefined && rv === obj.metadata?.resourceVersion) return;
    m.set(name, obj);
    this.#indexSet(found, false);
    this.#indexSet(obj, true);
    for (const h of this.#handlers) h.update(obj);
  }

  #remove(obj: T): void {
    const { ns, name } = keyOf(obj);
    const m = this.#objects.get(ns);
    const found = m?.get(name);
    if (m === undefined || found === undefined) return;
    m.delete(name);
    this.#indexSet(found, false);
    if (m.size === 0) this.#objects.delete(ns);
    for (const h of this.#handlers) h.delete(obj);
  }

  /** Watches until stopped: a watch the server ended resumes from the last version seen; 410 lists again; an error waits retryMs. */
  #watchLoop(): void {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    void (async () => {
      try {
        while (!this.#stopped) {
          if (this.#resourceVersion === '') await this.#list();
          await this.#watchOnce();
        }
      } catch (err) {
        this.#running = false;
        this.#restartLater(err);
        return;
      }
      this.#running = false;
    })();
  }

  async #watchOnce(): Promise<void> {
    const abort = new AbortController();
    this.#watch = abort;
    let res: http.IncomingMessage;
    try {
      res = await this.#rest.openStream(this.#path, {
        query: {
          watch: true,
          allowWatchBookmarks: true,
          resourceVersion: this.#resourceVersion,
          labelSelector: this.#opts.labelSelector,
          timeoutSeconds: WATCH_MIN_S + Math.floor(Math.random() * WATCH_MIN_S),
        },
        signal: abort.signal,
      });
    } catch (err) {
      if (this.#stopped) return;
      if (err instanceof KubeApiError && err.statusCode === 410) {
        this.#resourceVersion = '';
        return;
      }
      throw err;
    }
    res.socket?.setKeepAlive(true, 30_000);
    // Decoded by the stream (a StringDecoder), so a character split between two chunks stays whole.
    res.setEncoding('utf8');
    let buffered = '';
    try {
      for await (const chunk of res) {
        buffered += chunk as string;
        // Lines are cut by index and the rest kept once per chunk: slicing the remainder per line copied it once per event.
        let start = 0;
        let nl: number;
        while ((nl = buffered.indexOf('\n', start)) >= 0) {
          const line = buffered.slice(start, nl);
          start = nl + 1;
          if (line.trim().length > 0 && this.#onEvent(JSON.parse(line) as WatchEvent<T>) === 'relist') {
            res.destroy();
            return;
          }
        }
        buffered = buffered.slice(start);
      }
    } catch (err) {
      // Aborted by stop(), or the connection broke: resume from the last version seen.
      if (this.#stopped || abort.signal.aborted) return;
      throw err;
    } finally {
      if (this.#watch === abort) this.#watch = undefined;
    }
  }

  #onEvent(ev: WatchEvent<T>): 'relist' | undefined {
    switch (ev.type) {
      case 'ERROR': {
        // 410 Gone: the version is too old to resume from, so list again; anything else is an error (retried after retryMs).
        const status = ev.object as { code?: number; reason?: string; message?: string };
        if (status.code === 410) {
          this.#resourceVersion = '';
          return 'relist';
        }
        throw new KubeApiError(status.code ?? 500, 'WATCH', this.#path, status);
      }
      case 'ADDED':
      case 'MODIFIED':
        this.#upsert(this.#transform(ev.object));
        break;
      case 'DELETED':
        this.#remove(this.#transform(ev.object));
        break;
      case 'BOOKMARK':
        break;
    }
    this.#resourceVersion = ev.object.metadata?.resourceVersion ?? this.#resourceVersion;
    return undefined;
  }

  #restartLater(err: unknown): void {
    if (this.#stopped) return;
    this.#opts.onError?.(err);
    if (this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#stopped) void this.start();
    }, this.#opts.retryMs ?? 1000);
    this.#retry.unref();
  }
}

function keyOf(obj: KubernetesObject): { ns: string; name: string } {
  return { ns: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' };
}
