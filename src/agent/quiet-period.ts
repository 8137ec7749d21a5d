// The preStop drain's last step: after the agent is empty, it waits until
// callers have stopped sending, because gateways learn that a pod is leaving
// only when its endpoint turns terminating, a moment after the pod's deletion.
// A call that arrives meanwhile is refused as draining (and sent elsewhere);
// one written onto a connection the agent is closing would be reset instead,
// and a reset call may have run, so it could not be sent again.

/** Quiet the preStop drain waits for after the agent is empty: how long endpoint removal takes to reach every gateway. */
export const DRAIN_QUIET_MS = 2000;
/** The most it waits for that quiet, counted from the drain's start, so callers that keep sending cannot hold a pod. */
export const DRAIN_QUIET_MAX_MS = 5000;

/**
 * How much longer to wait: until `quietMs` have passed with no call since
 * the later of the drain's start and the last call, capped at `maxMs` after
 * the drain's start. 0 when done.
 */
export function quietWaitMs(o: { now: number; drainStartedAt: number; lastCallAt: number; quietMs: number; maxMs: number }): number {
  const quietAt = Math.max(o.drainStartedAt, o.lastCallAt) + o.quietMs;
  const capAt = o.drainStartedAt + o.maxMs;
  return Math.max(0, Math.min(quietAt, capAt) - o.now);
}
