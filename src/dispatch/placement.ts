// Pure decisions of the dispatcher: which instance takes the next invocation
// and how many instances the present demand needs.
import type { InstanceState } from '../backends/backend.js';

export interface Candidate {
  id: string;
  state: InstanceState;
  concurrency: number;
  readyAt?: number;
}

/**
 * The ready instance with a free slot and the fewest invocations in flight.
 * Ties go to the instance that has been ready longest, so that work packs
 * onto old instances and the newest ones go idle first and can be drained.
 * `inFlight` is this gateway's own tally: it spreads this gateway's calls,
 * while the instance's agent keeps the slots for the calls of every gateway
 * (see concurrency-limiter.ts).
 */
export function pickInstance(candidates: readonly Candidate[], inFlight: ReadonlyMap<string, number>): string | undefined {
  let best: Candidate | undefined;
  let bestLoad = Infinity;
  for (const c of candidates) {
    if (c.state !== 'ready') continue;
    const load = inFlight.get(c.id) ?? 0;
    if (load >= c.concurrency) continue;
    if (load < bestLoad || (load === bestLoad && (c.readyAt ?? 0) < (best?.readyAt ?? 0))) {
      best = c;
      bestLoad = load;
    }
  }
  return best?.id;
}

/** Instances that are or will soon be able to serve. */
export function liveCount(candidates: readonly Candidate[]): number {
  return candidates.filter((c) => c.state === 'starting' || c.state === 'ready').length;
}

/**
 * How many instances the present demand (in flight plus waiting) needs,
 * within the function's bounds. Reserved concurrency caps it too: instances
 * beyond ceil(reserved / concurrency) could never be used.
 */
export function neededInstances(opts: { demand: number; concurrency: number; maxInstances: number; reservedConcurrency?: number | undefined }): number {
  const { demand, concurrency, maxInstances, reservedConcurrency } = opts;
  const cap = reservedConcurrency === undefined ? maxInstances : Math.min(maxInstances, Math.ceil(reservedConcurrency / concurrency));
  return Math.min(cap, Math.ceil(demand / concurrency));
}
