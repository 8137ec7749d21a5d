// Whether a call that failed at its instance is sent to another one. Pure.
// Only a call that provably never reached the runtime goes again (the
// instance was draining or could not be connected to); one that may have run
// is never repeated, so a sync call stays at-most-once, as on Lambda.
import { NotDeliveredError, type NotDeliveredReason } from '../agent/delivery.js';

/** Sends after the first, per call: enough to pass a few leaving instances, bounded against a loop. */
export const MAX_REDISPATCHES = 4;

export type RedispatchDecision = { redispatch: true; reason: NotDeliveredReason } | { redispatch: false; why: 'may-have-run' | 'too-many' };

/** `redispatches`: how many times this call has already been sent again. */
export function redispatchDecision(err: unknown, redispatches: number, max = MAX_REDISPATCHES): RedispatchDecision {
  if (!(err instanceof NotDeliveredError)) return { redispatch: false, why: 'may-have-run' };
  if (redispatches >= max) return { redispatch: false, why: 'too-many' };
  return { redispatch: true, reason: err.reason };
}
