// A work queue in the manner of client-go's: a key is queued at most once,
// is never handed to two workers at a time (a key added while it is being
// processed waits until the worker is done), and failed keys come back after
// an exponential per-key delay bounded by an overall token bucket. The clock
// is injected so the timing is tested without waiting.

export interface QueueClock {
  now(): number;
  /** Runs fn after ms; returns a cancel function. */
  setTimeout(fn: () => void, ms: number): () => void;
}

export const systemQueueClock: QueueClock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface WorkQueueOptions {
  clock?: QueueClock;
  /** First retry delay of a failing key (default 100 ms), doubled on each further failure. */
  baseDelayMs?: number;
  /** Longest retry delay of a key (default 5 minutes). */
  maxDelayMs?: number;
  /** Overall retries per second (default 10) and burst (default 100), so many failing keys cannot flood the API server. */
  qps?: number;
  burst?: number;
  /** Seconds each key waited between being queued and being handed to a worker. */
  onLatency?: (seconds: number) => void;
  /** The number of keys waiting, on every change. */
  onDepth?: (depth: number) => void;
}

/** The per-key exponential delay: base·2^(failures−1), at most max. */
export function backoffDelay(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  const exp = Math.min(failures - 1, 52);
  return Math.min(maxMs, baseMs * 2 ** exp);
}

/** A token bucket that answers "how long until my token" instead of refusing. */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes a token (possibly one not yet earned) and returns the wait in ms before it may be used. */
  reserve(now: number): number {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.qps) * 1000);
  }
}

export class WorkQueue {
  readonly #clock: QueueClock;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #bucket: TokenBucket;
  readonly #onLatency: ((s: number) => void) | undefined;
  readonly #onDepth: ((n: number) => void) | undefined;
  readonly #queue: string[] = [];
  /** Keys that need processing (queued, or added again while processing). */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #addedAt = new Map<string, number>();
  readonly #failures = new Map<string, number>();
  /** Delayed adds: the due time and the cancel function of the earliest one per key. */
  readonly #waiting = new Map<string, { due: number; cancel: () => void }>();
  readonly #getters: ((key: string | undefined) => void)[] = [];
  #shuttingDown = false;
  readonly #idle: (() => void)[] = [];

  constructor(opts: WorkQueueOptions = {}) {
    this.#clock = opts.clock ?? systemQueueClock;
    this.#baseMs = opts.baseDelayMs ?? 100;
    this.#maxMs = opts.maxDelayMs ?? 300_000;
    this.#bucket = new TokenBucket(opts.qps ?? 10, opts.burst ?? 100, this.#clock.now());
    this.#onLatency = opts.onLatency;
    this.#onDepth = opts.onDepth;
  }

  get length(): number {
    return this.#queue.length;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (!this.#addedAt.has(key)) this.#addedAt.set(key, this.#clock.now());
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Adds the key after ms; of several pending delayed adds of one key, the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = this.#clock.now() + ms;
    const pending = this.#waiting.get(key);
    if (pending !== undefined) {
      if (pending.due <= due) return;
      pending.cancel();
    }
    const cancel = this.#clock.setTimeout(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, ms);
    this.#waiting.set(key, { due, cancel });
  }

  /** Adds the key again after its backoff: call when processing it failed. */
  addRateLimited(key: string): number {
    const failures = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, failures);
    const delay = Math.max(backoffDelay(failures, this.#baseMs, this.#maxMs), this.#bucket.reserve(this.#clock.now()));
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count: call when processing it succeeded. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue is shut down and empty. */
  get(): Promise<string | undefined> {
    const key = this.#take();
    if (key !== undefined || this.#shuttingDown) return Promise.resolve(key);
    return new Promise((resolve) => this.#getters.push(resolve));
  }

  /** Marks the key processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#shuttingDown) this.#dirty.delete(key);
    else if (this.#dirty.has(key)) this.#push(key);
    if (this.#processing.size === 0 && this.#queue.length === 0) for (const f of this.#idle.splice(0)) f();
  }

  /** Stops accepting keys, wakes idle workers and resolves once in-flight keys are done (queued ones are dropped). */
  async shutDown(): Promise<void> {
    this.#shuttingDown = true;
    for (const w of this.#waiting.values()) w.cancel();
    this.#waiting.clear();
    for (const key of this.#queue.splice(0)) this.#dirty.delete(key);
    this.#onDepth?.(0);
    for (const g of this.#getters.splice(0)) g(undefined);
    if (this.#processing.size > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  #push(key: string): void {
    const getter = this.#getters.shift();
    if (getter !== undefined) {
      this.#start(key);
      getter(key);
      return;
    }
    this.#queue.push(key);
    this.#onDepth?.(this.#queue.length);
  }

  #take(): string | undefined {
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    this.#onDepth?.(this.#queue.length);
    this.#start(key);
    return key;
  }

  #start(key: string): void {
    this.#dirty.delete(key);
    this.#processing.add(key);
    const at = this.#addedAt.get(key);
    this.#addedAt.delete(key);
    if (at !== undefined) this.#onLatency?.((this.#clock.now() - at) / 1000);
  }
}
