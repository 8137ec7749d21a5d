// From EndpointSlices to instance records. Pure: the backend feeds it the
// slices its informer holds.
import { unitKeyOfLabels } from '../../versions/labels.js';
import type { InstanceState } from '../backend.js';

/** The fields of a discovery.k8s.io/v1 EndpointSlice this reads, in wire form. */
export interface EndpointSlice {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  addressType?: string;
  endpoints?: {
    addresses?: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    targetRef?: { kind?: string; name?: string; uid?: string };
  }[];
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/**
 * The serving unit a slice's endpoints belong to: NAME:N for a version's
 * Service, else the Service's name (a function's $LATEST Service is named
 * for the function). The EndpointSlice controller copies every label of
 * the Service onto its slices, except the reserved service-name, managed-by
 * and headless ones, and copies them again when the Service's labels
 * change (setEndpointSliceLabels in k8s.io/endpointslice's utils.go, used
 * by pkg/controller/endpointslice's reconciler), so the version labels the
 * controller puts on a version's Service reach its slices.
 */
export function unitKeyOfSlice(slice: EndpointSlice): string | undefined {
  return unitKeyOfLabels(slice.metadata?.labels, SERVICE_NAME_LABEL);
}

export interface EndpointRecord {
  /** The pod's name when the slice names it, else its address. */
  id: string;
  address: string;
  state: InstanceState;
  /** The pod's name, when the slice points at a Pod. */
  pod?: string;
}

/**
 * Per the EndpointSlice API (discovery.k8s.io/v1): `terminating` marks a pod
 * on its way out (it may still be `serving`, i.e. passing readiness, while it
 * drains: ready=false, serving=true, terminating=true), and is never chosen;
 * `serving` is readiness regardless of termination and, when unset, defers
 * to `ready`, which when unset means ready. A pod not serving is starting
 * (the agent has not seen its runtime ask for work, or the pod's probes have
 * not passed yet).
 */
export function endpointState(c: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } | undefined): InstanceState {
  if (c?.terminating === true) return 'draining';
  const serving = c?.serving ?? c?.ready;
  if (serving !== false) return 'ready';
  return 'starting';
}

/** The function's endpoints across its slices, one record per pod (slices may overlap while they are rewritten). */
export function endpointsOf(slices: readonly EndpointSlice[]): EndpointRecord[] {
  const byId = new Map<string, EndpointRecord>();
  for (const s of slices) {
    if (s.addressType !== undefined && s.addressType !== 'IPv4' && s.addressType !== 'IPv6') continue;
    for (const e of s.endpoints ?? []) {
      const address = e.addresses?.[0];
      if (address === undefined) continue;
      const id = e.targetRef?.name ?? address;
      const rec: EndpointRecord = { id, address, state: endpointState(e.conditions) };
      if (e.targetRef?.name !== undefined && (e.targetRef.kind ?? 'Pod') === 'Pod') rec.pod = e.targetRef.name;
      const prev = byId.get(id);
      // Of two views of one pod (slices rewritten), one that says it is
      // leaving wins, since a pod never comes back from terminating; else
      // the more serviceable one.
      if (prev === undefined || (prev.state !== 'draining' && (rec.state === 'draining' || rank(rec.state) > rank(prev.state)))) byId.set(id, rec);
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

function rank(s: InstanceState): number {
  return s === 'ready' ? 3 : s === 'starting' ? 2 : s === 'draining' ? 1 : 0;
}
