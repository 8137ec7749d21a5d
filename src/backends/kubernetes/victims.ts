// Which pods leave on a scale-down. Pure: the backend feeds it the instances
// this gateway may still choose, marks the victims draining at once and
// gives their pods a low controller.kubernetes.io/pod-deletion-cost before
// it writes the new count, so the ReplicaSet deletes those pods and no other.
import type { InstanceState } from '../backend.js';

export interface VictimCandidate {
  id: string;
  state: InstanceState;
  /** Calls this gateway has in flight on the instance. */
  inFlight: number;
  /** When this gateway saw it ready; undefined while it starts. */
  readyAt?: number | undefined;
}

/** The deletion cost victims get; pods without the annotation count as 0. */
export const VICTIM_DELETION_COST = -1000;

/**
 * The `candidates.length - desired` instances to remove, in order: those not
 * ready yet first (the ReplicaSet removes unready pods before it looks at
 * deletion costs, so choosing otherwise could not be honoured), then the
 * idlest (fewest calls in flight from this gateway, so fewest calls wait on
 * a drain), then the newest (work packs onto old instances, see placement.ts).
 */
export function chooseVictims(candidates: readonly VictimCandidate[], desired: number): string[] {
  const n = candidates.length - Math.max(0, Math.floor(desired));
  if (n <= 0) return [];
  return [...candidates].sort(victimOrder).slice(0, n).map((c) => c.id);
}

function victimOrder(a: VictimCandidate, b: VictimCandidate): number {
  const ready = Number(a.state === 'ready') - Number(b.state === 'ready');
  if (ready !== 0) return ready;
  if (a.inFlight !== b.inFlight) return a.inFlight - b.inFlight;
  const age = (b.readyAt ?? Infinity) - (a.readyAt ?? Infinity);
  if (age !== 0 && !Number.isNaN(age)) return age;
  return a.id.localeCompare(b.id);
}
