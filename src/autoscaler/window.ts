// Windowed averages over one-second buckets, kept as immutable arrays so the
// core stays pure: every update returns a new array and the caller's state is
// never mutated behind its back.

/** One second of samples: their sum and count, so several samples in the same second average rather than overwrite. */
export interface Bucket {
  /** Epoch seconds (floor of ms / 1000). */
  readonly sec: number;
  readonly sum: number;
  readonly count: number;
}

/** Buckets in ascending order of `sec`, one per second at most. */
export type Buckets = readonly Bucket[];

export function secondOf(nowMs: number): number {
  return Math.floor(nowMs / 1000);
}

/** A window of `windowMs` holds the current second and the ones before it, whole seconds only. */
export function windowSeconds(windowMs: number): number {
  return Math.max(1, Math.ceil(windowMs / 1000));
}

/**
 * Adds `value` to the bucket of `nowMs` and drops buckets older than `keepMs`.
 * A sample older than the newest bucket (a clock that stepped back) is folded
 * into the newest bucket, so the array stays sorted.
 */
export function record(buckets: Buckets, nowMs: number, value: number, keepMs: number): Buckets {
  const sec = secondOf(nowMs);
  const last = buckets[buckets.length - 1];
  let next: Bucket[];
  if (last !== undefined && last.sec >= sec) {
    next = [...buckets.slice(0, -1), { sec: last.sec, sum: last.sum + value, count: last.count + 1 }];
  } else {
    next = [...buckets, { sec, sum: value, count: 1 }];
  }
  const newest = Math.max(sec, last?.sec ?? sec);
  const oldest = newest - windowSeconds(keepMs) + 1;
  const firstKept = next.findIndex((b) => b.sec >= oldest);
  return firstKept <= 0 ? next : next.slice(firstKept);
}

/**
 * Mean of the per-second means of the buckets within `windowMs` of `nowMs`.
 * Seconds without a sample are skipped rather than counted as zero: a gap
 * means nobody measured (a new leader, a late timer), not that load was zero,
 * and a function seen for five seconds is judged on those five seconds.
 * Undefined when the window holds no bucket.
 */
export function windowAverage(buckets: Buckets, nowMs: number, windowMs: number): number | undefined {
  const oldest = secondOf(nowMs) - windowSeconds(windowMs) + 1;
  let total = 0;
  let n = 0;
  for (const b of buckets) {
    if (b.sec < oldest || b.count === 0) continue;
    total += b.sum / b.count;
    n += 1;
  }
  return n === 0 ? undefined : total / n;
}
