// Bounds on batches in flight across a mapping's partitions
// (scalingConfig.maximumConcurrency).
//
// Lambda's maximumConcurrency is the mapping's, wherever its pollers run. With
// one process (the embedded default and its in-memory queue) a Semaphore is
// the whole count. With several gateways sharing a Redis, every gateway polls
// some of a mapping's partitions, so the count must be shared: SharedSlots
// takes a lease per batch from the platform's ConcurrencyLimiter (the one
// reserved concurrency uses: leases in Redis, renewed while held, lapsing
// when their gateway dies), under a key that names the mapping.
import type { Logger } from 'pino';
import type { ConcurrencyLimiter, Lease } from '../dispatch/concurrency-limiter.js';
import { sleep } from './abortable-wait.js';

/** A mapping's batch slots: a slot is held from before a batch's invocation until it really ends. */
export interface BatchSlots {
  /** Resolves with the slot's releaser once one is free; rejects with the signal's reason when it aborts first. */
  acquire(signal: AbortSignal): Promise<() => void>;
}

/** A counting semaphore whose waits can be given up: one process's own count. */
export class Semaphore implements BatchSlots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(readonly size: number) {
    this.#free = size;
  }

  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.#free > 0) {
      this.#free--;
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(grant);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal.reason);
      };
      this.#waiting.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return this.#releaser();
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

/**
 * The limiter key of a mapping's slots, from its NAMESPACE/NAME key. The
 * limiter keys a function's leases by the function's name, a DNS label,
 * which holds neither ':' nor '/': no function's leases can ever be these.
 * Braces (which a file's namespace could hold, and which would break the
 * key's Redis Cluster hash tag) are written as %7B and %7D.
 */
export function mappingSlotsKey(mappingKey: string): string {
  return `esm:${mappingKey.replace(/[{}]/g, (c) => encodeURIComponent(c))}`;
}

/** What asking the limiter for a slot gave, when it gave none. */
export type SlotMiss =
  /** Every slot is held; `releasedMeanwhile`: a slot of this gateway was given back while the answer came. */
  | { kind: 'full'; releasedMeanwhile: boolean }
  /** The limiter could not be asked (Redis away), `failures` times in a row. */
  | { kind: 'unreachable'; failures: number };

export interface SlotTiming {
  /** How long a batch waits for a slot another gateway may give back before asking again. */
  pollMs: number;
  /** The first wait after the limiter could not be asked; doubled per failure in a row, up to maxRetryMs. */
  retryMs: number;
  maxRetryMs: number;
}

export const DEFAULT_SLOT_TIMING: SlotTiming = { pollMs: 200, retryMs: 250, maxRetryMs: 5000 };

/**
 * How long a batch that got no slot waits before asking again, and whether
 * a slot given back on this gateway ends the wait early. Another gateway's
 * release cannot be heard, only seen on the next ask, hence the poll. A
 * Redis that is away is waited out with a backoff, never failing the batch:
 * its records stay uncommitted and it runs once Redis answers.
 */
export function slotWait(miss: SlotMiss, timing: SlotTiming = DEFAULT_SLOT_TIMING): { ms: number; wakeOnRelease: boolean } {
  if (miss.kind === 'full') return miss.releasedMeanwhile ? { ms: 0, wakeOnRelease: false } : { ms: timing.pollMs, wakeOnRelease: true };
  const exp = Math.min(Math.max(miss.failures - 1, 0), 30);
  return { ms: Math.min(timing.maxRetryMs, timing.retryMs * 2 ** exp), wakeOnRelease: false };
}

export interface SharedSlotsOptions extends Partial<SlotTiming> {
  logger?: Logger;
}

/** `limit` slots counted by a ConcurrencyLimiter under `key`: one count for every gateway that shares the limiter's Redis. */
export class SharedSlots implements BatchSlots {
  readonly #limiter: ConcurrencyLimiter;
  readonly #key: string;
  readonly #limit: number;
  readonly #timing: SlotTiming;
  readonly #log: Logger | undefined;
  /** Batches of this gateway waiting for a slot, first come first woken. */
  readonly #waiting: Array<() => void> = [];
  /** Slots this gateway gave back so far: a release during an ask is not missed. */
  #releases = 0;
  /** Whether the limiter's last answer was a failure (logged once per spell). */
  #unreachable = false;

  constructor(limiter: ConcurrencyLimiter, key: string, limit: number, opts: SharedSlotsOptions = {}) {
    this.#limiter = limiter;
    this.#key = key;
    this.#limit = limit;
    this.#timing = {
      pollMs: opts.pollMs ?? DEFAULT_SLOT_TIMING.pollMs,
      retryMs: opts.retryMs ?? DEFAULT_SLOT_TIMING.retryMs,
      maxRetryMs: opts.maxRetryMs ?? DEFAULT_SLOT_TIMING.maxRetryMs,
    };
    this.#log = opts.logger;
  }

  async acquire(signal: AbortSignal): Promise<() => void> {
    let failures = 0;
    for (;;) {
      signal.throwIfAborted();
      const releasesBefore = this.#releases;
      let miss: SlotMiss;
      try {
        const lease = await this.#limiter.tryAcquire(this.#key, this.#limit);
        this.#answered();
        if (lease) {
          if (!signal.aborted) return this.#releaser(lease);
          // Given up while asking: the slot goes straight back.
          this.#release(lease);
          throw signal.reason;
        }
        failures = 0;
        miss = { kind: 'full', releasedMeanwhile: this.#releases !== releasesBefore };
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        miss = { kind: 'unreachable', failures: ++failures };
        if (!this.#unreachable) {
          this.#unreachable = true;
          this.#log?.warn({ err, slots: this.#key }, 'maximumConcurrency slots cannot be counted (Redis away?): batches wait and ask again');
        }
      }
      const wait = slotWait(miss, this.#timing);
      if (wait.ms > 0) await this.#wait(wait.ms, wait.wakeOnRelease, signal);
    }
  }

  #answered(): void {
    if (!this.#unreachable) return;
    this.#unreachable = false;
    this.#log?.info({ slots: this.#key }, 'maximumConcurrency slots are counted again');
  }

  /** Waits `ms`, or less when a slot of this gateway is given back (`wakeOnRelease`); rejects when the signal aborts. */
  async #wait(ms: number, wakeOnRelease: boolean, signal: AbortSignal): Promise<void> {
    const ends = new AbortController();
    const end = (): void => ends.abort();
    signal.addEventListener('abort', end, { once: true });
    if (wakeOnRelease) this.#waiting.push(end);
    try {
      await sleep(ms, ends.signal);
    } catch {
      // Woken by a release, or the batch given up: told apart below.
    } finally {
      signal.removeEventListener('abort', end);
      const i = this.#waiting.indexOf(end);
      if (i >= 0) this.#waiting.splice(i, 1);
    }
    signal.throwIfAborted();
  }

  #releaser(lease: Lease): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#release(lease);
    };
  }

  /** Gives the lease back (a lease that cannot be returned lapses on its own) and wakes the first waiting batch to ask for it. */
  #release(lease: Lease): void {
    this.#limiter.release(lease);
    this.#releases++;
    this.#waiting.shift()?.();
  }
}
