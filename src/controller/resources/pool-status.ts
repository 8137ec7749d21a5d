// A WarmPool's status and the claims it is sized from, computed from what
// the cluster shows: its idle pods and the claims the controller observed.
// Pure, so every condition is tested without a cluster.
import type { V1Pod } from '@kubernetes/client-node';
import type { Condition } from '../../api/function.js';
import type { WarmPoolStatus } from '../../api/warm-pool.js';
import { POOL_RATE_WINDOW_MS, POOL_REFILL_MS, claimsPerMinute } from '../../pools/pool-size.js';
import { stableStringify } from './hash.js';
import { podProblem, READY } from './status.js';

export interface IdleCounts {
  ready: number;
  starting: number;
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function isDeleting(pod: V1Pod): boolean {
  return pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
}

/** Idle pods ready to be claimed, and those still starting; pods on their way out are neither. */
export function idleCounts(idle: readonly V1Pod[]): IdleCounts {
  const live = idle.filter((p) => !isDeleting(p));
  const ready = live.filter(isReady).length;
  return { ready, starting: live.length - ready };
}

export interface PoolStatusInput {
  generation: number | undefined;
  previous: WarmPoolStatus | undefined;
  /** RFC 3339, for a condition that changes. */
  now: string;
  nowMs: number;
  desiredSize: number;
  idle: readonly V1Pod[];
  /** Claims observed since this controller started leading. */
  claims: number;
  /** Epoch ms of the claims observed (recent ones matter). */
  claimTimes: readonly number[];
  /** Epoch ms of the latest claim observed. */
  lastClaim: number | undefined;
}

function readyCondition(i: Pick<PoolStatusInput, 'generation' | 'previous' | 'now'>, status: Condition['status'], reason: string, message: string): Condition {
  const prev = i.previous?.conditions?.find((c) => c.type === READY);
  const lastTransitionTime = prev !== undefined && prev.status === status && prev.lastTransitionTime !== undefined ? prev.lastTransitionTime : i.now;
  return { type: READY, status, reason, message, lastTransitionTime, ...(i.generation !== undefined ? { observedGeneration: i.generation } : {}) };
}

export function poolStatus(i: PoolStatusInput): WarmPoolStatus {
  const { ready } = idleCounts(i.idle);
  const problem = podProblem(i.idle);
  const counts = `${ready}/${i.desiredSize} idle pods ready`;
  let condition: Condition;
  if (i.desiredSize === 0) condition = readyCondition(i, 'True', 'NoneWanted', 'no idle pods wanted: minSize is 0 and nothing was claimed recently');
  else if (ready >= i.desiredSize) condition = readyCondition(i, 'True', 'PodsReady', counts);
  else if (problem !== undefined) condition = readyCondition(i, 'False', problem.reason, `${counts}; ${problem.message}`);
  else condition = readyCondition(i, 'False', 'PodsStarting', counts);
  return {
    ...(i.generation !== undefined ? { observedGeneration: i.generation } : {}),
    desiredSize: i.desiredSize,
    readyPods: ready,
    claims: i.claims,
    claimsPerMinute: claimsPerMinute(i.claimTimes, i.nowMs),
    ...(i.lastClaim !== undefined ? { lastClaimTime: new Date(i.lastClaim).toISOString() } : i.previous?.lastClaimTime !== undefined ? { lastClaimTime: i.previous.lastClaimTime } : {}),
    conditions: [condition],
  };
}

/** Ready=False for a pool the controller cannot run (a spec it refuses, a name another object holds); the rest as it was. */
export function refusedPoolStatus(i: Pick<PoolStatusInput, 'generation' | 'previous' | 'now'>, reason: 'InvalidSpec' | 'NameConflict' | 'ApplyFailed', message: string): WarmPoolStatus {
  return {
    ...i.previous,
    ...(i.generation !== undefined ? { observedGeneration: i.generation } : {}),
    conditions: [readyCondition(i, 'False', reason, message)],
  };
}

/** Equal apart from transition times, which the API server echoes back in its own format. */
export function samePoolStatus(a: WarmPoolStatus | undefined, b: WarmPoolStatus): boolean {
  if (a === undefined) return false;
  const strip = (s: WarmPoolStatus) => ({ ...s, conditions: (s.conditions ?? []).map(({ lastTransitionTime: _t, ...c }) => c) });
  return stableStringify(strip(a)) === stableStringify(strip(b));
}

/**
 * When the pool's size or rate next changes by itself: a claim leaving the
 * refill period (a burst no longer counts whole) or the rate window. Undefined
 * when no observed claim is still in the window.
 */
export function nextPoolChangeMs(claimTimes: readonly number[], now: number, windowMs = POOL_RATE_WINDOW_MS, refillMs = POOL_REFILL_MS): number | undefined {
  let next = Infinity;
  for (const t of claimTimes) {
    for (const edge of [t + refillMs, t + windowMs]) if (edge > now && edge < next) next = edge;
  }
  return next === Infinity ? undefined : Math.max(1, next - now);
}

/**
 * The claims of one pool as the controller observed them: each claimed pod
 * counted once (by uid) with its claim time, kept while the pod exists or
 * its claim is still in the rate window.
 */
export class ClaimLog {
  readonly #times = new Map<string, number>();
  #total = 0;
  #last: number | undefined;

  constructor(private readonly since: number) {}

  /** Records the claimed pods not seen before; returns how many of them were claimed since the controller started leading. */
  observe(claimed: readonly { uid: string; claimedAt: number | undefined }[], now: number, windowMs = POOL_RATE_WINDOW_MS): number {
    let counted = 0;
    const present = new Set<string>();
    for (const c of claimed) {
      present.add(c.uid);
      if (this.#times.has(c.uid)) continue;
      const t = c.claimedAt ?? now;
      this.#times.set(c.uid, t);
      if (t >= this.since) {
        counted++;
        this.#total++;
      }
      if (this.#last === undefined || t > this.#last) this.#last = t;
    }
    for (const [uid, t] of this.#times) if (!present.has(uid) && now - t >= windowMs) this.#times.delete(uid);
    return counted;
  }

  get total(): number {
    return this.#total;
  }

  get last(): number | undefined {
    return this.#last;
  }

  times(): number[] {
    return [...this.#times.values()];
  }
}
