// Reserved concurrency (Lambda's cap on a function's concurrent invocations)
// is a limit on the function, wherever its calls enter. The dispatcher asks a
// ConcurrencyLimiter for a lease before it admits a call of a function that
// has a cap and gives the lease back when the call ends; functions without a
// cap never ask, so their path has no extra step.
//
// Two implementations:
// - LocalConcurrencyLimiter (here): one process's own count. Exact when one
//   gateway admits every call: the embedded default with its in-memory queue.
// - RedisConcurrencyLimiter (redis-concurrency-limiter.ts): one count shared by
//   every gateway through Redis, with leases that lapse when their gateway dies.
//
// Instance slots (spec.concurrency) need no shared count: every gateway's calls
// to one instance meet in that instance's agent, which hands the runtime at
// most `concurrency` of them at once and queues the rest (src/agent/agent.ts,
// pump). A gateway's own per-instance tally (placement.ts) only spreads its
// calls and asks for more instances; it is not what keeps an instance within
// its slots.
import { exceedsReservedConcurrency } from '../autoscaler/core.js';

/** One admitted call's hold on one of its function's reserved slots. */
export interface Lease {
  readonly functionName: string;
  readonly id: string;
}

export interface ConcurrencyLimiter {
  /**
   * A lease on one of the `limit` slots counted under `functionName` (a
   * function's reserved concurrency, or an event-source mapping's
   * maximumConcurrency under `esm:NAMESPACE/NAME`, which no function can be
   * called), or undefined when all are held. Rejects when the count cannot be
   * consulted (Redis away): the caller must then refuse the call (or, for a
   * mapping's batch, wait) rather than risk exceeding the cap.
   */
  tryAcquire(functionName: string, limit: number): Promise<Lease | undefined>;
  /** Gives the slot back. Never throws: a lease that cannot be returned lapses on its own. */
  release(lease: Lease): void;
  /** Stops background work (lease renewal) and lets go of connections. */
  close(): Promise<void>;
}

/** The count inside this process: today's behaviour of a single gateway. */
export class LocalConcurrencyLimiter implements ConcurrencyLimiter {
  readonly #held = new Map<string, Set<string>>();
  #seq = 0;

  tryAcquire(functionName: string, limit: number): Promise<Lease | undefined> {
    return Promise.resolve(this.acquireNow(functionName, limit));
  }

  /** The synchronous core of tryAcquire. */
  acquireNow(functionName: string, limit: number): Lease | undefined {
    const held = this.#held.get(functionName) ?? new Set<string>();
    if (exceedsReservedConcurrency({ reservedConcurrency: limit }, held.size)) return undefined;
    const lease = { functionName, id: String(++this.#seq) };
    held.add(lease.id);
    this.#held.set(functionName, held);
    return lease;
  }

  release(lease: Lease): void {
    const held = this.#held.get(lease.functionName);
    if (!held?.delete(lease.id)) return;
    if (held.size === 0) this.#held.delete(lease.functionName);
  }

  /** Leases held now for the function. */
  held(functionName: string): number {
    return this.#held.get(functionName)?.size ?? 0;
  }

  async close(): Promise<void> {}
}

export interface LeaseTiming {
  /** How long a lease lives without renewal: the longest a dead gateway's calls keep holding slots. */
  leaseMs: number;
  /** How often a live gateway renews the leases it holds. */
  renewEveryMs: number;
}

export const DEFAULT_LEASE_MS = 15_000;

/**
 * Lease life and renewal period from what was asked. Renewal must come well
 * within the life: a third of it by default, so two renewals in a row may
 * fail (a Redis failover, a long GC pause) before a live call loses its lease.
 */
export function leaseTiming(asked: Partial<LeaseTiming> = {}): LeaseTiming {
  const leaseMs = asked.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isFinite(leaseMs) || leaseMs < 100) throw new Error(`leaseMs must be at least 100 ms, got ${leaseMs}`);
  const renewEveryMs = asked.renewEveryMs ?? Math.floor(leaseMs / 3);
  if (!Number.isFinite(renewEveryMs) || renewEveryMs <= 0 || renewEveryMs >= leaseMs) {
    throw new Error(`renewEveryMs must be above 0 and below leaseMs (${leaseMs}), got ${renewEveryMs}`);
  }
  return { leaseMs, renewEveryMs };
}
