// A unit's instances from two sources: its EndpointSlices, and what this
// gateway learned from the pods' agents directly (a claimed pool pod it
// specialised, or a pod whose agent answered /readyz). The slices lag the
// agents by the readiness probe's period and the EndpointSlice
// controller's round trip; what the agent said bridges that gap until the
// slice says the same. Pure.
import type { InstanceState } from '../backend.js';
import type { EndpointRecord } from './endpoints.js';

/** A pod this gateway knows to be ready from its agent. */
export interface DirectRecord {
  pod: string;
  address: string;
}

/**
 * What the pod informer says of a pod: `gone` once deleted, `terminating`
 * once it has a deletionTimestamp, `specializing` for a claimed pool pod
 * whose Ready condition is still the one it had as an idle pod (its slice's
 * "ready" is about the idle agent, not the function: see readyPredatesClaim).
 */
export type PodFact = 'present' | 'terminating' | 'gone' | 'unknown' | 'specializing';

/**
 * One record per pod of the unit:
 * - a pod the pod informer saw deleted is dropped, and one with a
 *   deletionTimestamp is draining, whatever the slices still say (they
 *   follow the same news later);
 * - a claimed pod still specialising is starting, though its slice says ready;
 * - a pod the slices list as ready or draining keeps their word;
 * - a pod the slices list as starting, or do not list yet, is ready when
 *   its agent told this gateway so.
 * Sorted by id, as endpointsOf's records are.
 */
export function mergeRecords(fromSlices: readonly EndpointRecord[], direct: readonly DirectRecord[], factOf: (pod: string) => PodFact): EndpointRecord[] {
  const learned = new Map(direct.map((d) => [d.pod, d]));
  const out: EndpointRecord[] = [];
  const leaving = (pod: string | undefined, state: InstanceState): InstanceState | undefined => {
    const fact = pod === undefined ? 'unknown' : factOf(pod);
    if (fact === 'gone') return undefined;
    if (fact === 'terminating') return 'draining';
    return state;
  };
  for (const r of fromSlices) {
    const d = r.pod !== undefined ? learned.get(r.pod) : undefined;
    if (r.pod !== undefined) learned.delete(r.pod);
    const said = r.state === 'ready' && r.pod !== undefined && factOf(r.pod) === 'specializing' ? 'starting' : r.state;
    const state = leaving(r.pod, said === 'starting' && d !== undefined ? 'ready' : said);
    if (state !== undefined) out.push({ ...r, state });
  }
  for (const d of learned.values()) {
    const state = leaving(d.pod, 'ready');
    if (state !== undefined) out.push({ id: d.pod, address: d.address, pod: d.pod, state });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Whether a pod's slice now speaks for it, so what its agent told this
 * gateway at `learnedAt` is no longer needed: the slice says ready, and
 * the pod's Ready condition turned true at or after that moment. A slice's
 * "ready" from before is stale: a claimed pool pod was Ready while idle,
 * then its probe may fail while it specialises and its runtime initialises,
 * and the slice would say "starting" for an instance that takes calls.
 * lastTransitionTime has whole seconds, hence a second of slack. Pure.
 */
export function sliceTookOver(sliceState: InstanceState, readySince: number | undefined, learnedAt: number): boolean {
  return sliceState === 'ready' && readySince !== undefined && readySince >= learnedAt - 1000;
}
