// How many idle pods a warm pool keeps: enough to meet the claims that come
// while a replacement starts, twice over, between the pool's minSize and
// maxSize. Pure; the controller feeds it the claim times it observed.

export interface PoolSizeInput {
  minSize: number;
  maxSize: number;
  /** Epoch ms of the claims the controller observed (any order; old ones are ignored). */
  claimTimes: readonly number[];
  now: number;
  /** Window over which the claim rate is taken (default 60 s). */
  windowMs?: number;
  /** How long a new pool pod takes to become ready (default 5 s): the claims of that long must find a pod waiting. */
  refillMs?: number;
}

export const POOL_RATE_WINDOW_MS = 60_000;
export const POOL_REFILL_MS = 5_000;

export function claimsPerMinute(claimTimes: readonly number[], now: number, windowMs: number = POOL_RATE_WINDOW_MS): number {
  const recent = claimTimes.filter((t) => t <= now && now - t < windowMs).length;
  return (recent * 60_000) / windowMs;
}

export function desiredPoolSize(i: PoolSizeInput): number {
  const windowMs = i.windowMs ?? POOL_RATE_WINDOW_MS;
  const refillMs = i.refillMs ?? POOL_REFILL_MS;
  const perMs = claimsPerMinute(i.claimTimes, i.now, windowMs) / 60_000;
  // A burst inside one refill period must be met as a whole, whatever the average.
  const burst = i.claimTimes.filter((t) => t <= i.now && i.now - t < refillMs).length;
  const want = Math.max(Math.ceil(2 * perMs * refillMs), burst);
  return Math.min(i.maxSize, Math.max(i.minSize, want));
}
