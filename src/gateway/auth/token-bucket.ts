// Per-caller rate limits as token buckets: `burst` requests at once, refilled
// at `requestsPerSecond`. Pure apart from the injected clock. The number of
// buckets is bounded by the number of callers in the credentials file.
import type { RateLimit } from './callers.js';

interface Bucket {
  tokens: number;
  at: number;
  limit: RateLimit;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  take(caller: string, limit: RateLimit): TakeResult {
    const t = this.now();
    let b = this.#buckets.get(caller);
    // A reloaded file may change a caller's limit: start that caller afresh.
    if (!b || b.limit.burst !== limit.burst || b.limit.requestsPerSecond !== limit.requestsPerSecond) {
      b = { tokens: limit.burst, at: t, limit };
      this.#buckets.set(caller, b);
    }
    b.tokens = Math.min(limit.burst, b.tokens + (Math.max(0, t - b.at) / 1000) * limit.requestsPerSecond);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / limit.requestsPerSecond)) };
  }

  /** Drops buckets of callers no longer in the file. */
  retain(names: ReadonlySet<string>): void {
    for (const k of this.#buckets.keys()) if (!names.has(k)) this.#buckets.delete(k);
  }
}
