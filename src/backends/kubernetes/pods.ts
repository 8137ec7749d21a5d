// What the gateway reads of a pod, in wire form, and the decisions made on
// it: which serving unit it belongs to, whether it is leaving, and which
// idle warm-pool pods may be claimed. Pure: the backend feeds it the pods
// its informer holds.
import { LABEL_FUNCTION } from '../../controller/resources/names.js';
import { ANNOTATION_CLAIMED_AT, ANNOTATION_SPEC_HASH, LABEL_CLAIMED, LABEL_POOL } from '../../pools/labels.js';
import { unitKeyOfLabels } from '../../versions/labels.js';

/** The fields of a v1 Pod this reads, in wire form (timestamps are strings). */
export interface PodObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    deletionTimestamp?: string | null;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type?: string; status?: string; lastTransitionTime?: string }[];
  };
}

/**
 * The serving unit a pod runs, from its labels, by the same rule as its
 * EndpointSlices: NAME:N for a version's pod, else hearth.dev/function
 * ($LATEST). Undefined for an idle pool pod, which runs nothing yet.
 */
export function unitKeyOfPod(pod: PodObject): string | undefined {
  return unitKeyOfLabels(pod.metadata?.labels, LABEL_FUNCTION);
}

/** Deleted, or on its way out: never chosen again. */
export function isTerminating(pod: PodObject): boolean {
  const t = pod.metadata?.deletionTimestamp;
  return t !== undefined && t !== null;
}

/** A pod whose phase is final runs nothing any more. */
function hasEnded(pod: PodObject): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** The address its agent listens on, once the pod has one and while it may still serve. */
export function podAddress(pod: PodObject): string | undefined {
  if (isTerminating(pod) || hasEnded(pod)) return undefined;
  const ip = pod.status?.podIP;
  return ip === undefined || ip === '' ? undefined : ip;
}

export function isPodReady(pod: PodObject): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Epoch ms since when the pod is Ready (its condition's lastTransitionTime), undefined while it is not. */
export function readySince(pod: PodObject): number | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === 'Ready');
  if (c?.status !== 'True' || c.lastTransitionTime === undefined) return undefined;
  const t = Date.parse(c.lastTransitionTime);
  return Number.isNaN(t) ? undefined : t;
}

/** Claimed from a pool: its agent's /readyz said "ready" as an idle pod before it was given any function. */
export function isClaimed(pod: PodObject): boolean {
  return pod.metadata?.labels?.[LABEL_CLAIMED] === 'true';
}

/** A claimed pod whose specialisation failed: it serves nothing, and the controller deletes it. */
export function specializationFailed(pod: PodObject): boolean {
  return pod.metadata?.annotations?.[ANNOTATION_SPEC_HASH] === 'failed';
}

/**
 * A claimed pod whose Ready condition is the one it had as an idle pool pod
 * (it turned true before the claim, or carries no time): its agent was
 * ready for a specialisation, which says nothing of the function's runtime.
 * Its slice lists it as ready as soon as the claim relabels it, before the
 * agent has the function. lastTransitionTime has whole seconds, hence a
 * second of slack. Pure.
 */
export function readyPredatesClaim(pod: PodObject): boolean {
  if (!isClaimed(pod)) return false;
  const since = readySince(pod);
  const claimedAt = Date.parse(pod.metadata?.annotations?.[ANNOTATION_CLAIMED_AT] ?? '');
  if (since === undefined) return isPodReady(pod);
  return Number.isNaN(claimedAt) || since < claimedAt - 1000;
}

/**
 * A claimed pod whose agent still has no function long after its claim:
 * its claimer went away between the claim and the specialisation (crashed,
 * or stopped). The claim's spec hash makes it count as one of its unit's
 * instances, which it can never be, so it must be marked failed for the
 * controller to replace it. `afterMs`: longer than any specialisation may
 * take (pool-claims.ts SPECIALIZE_TIMEOUT_MS) plus slack. Pure.
 */
export function orphanedClaim(pod: PodObject, now: number, afterMs: number): boolean {
  if (!isClaimed(pod) || specializationFailed(pod) || isTerminating(pod)) return false;
  const claimedAt = Date.parse(pod.metadata?.annotations?.[ANNOTATION_CLAIMED_AT] ?? '');
  return !Number.isNaN(claimedAt) && now - claimedAt > afterMs;
}

/**
 * The idle pods of `pool` a claim may take: still the pool's (LABEL_POOL),
 * Ready (its runtime waits for a specialisation), with an address to send
 * it to, not leaving, and with a resourceVersion for the claim's
 * precondition. `exclude`: pods this gateway is claiming already or tried.
 */
export function claimablePods(pods: readonly PodObject[], pool: string, exclude: ReadonlySet<string> = new Set()): PodObject[] {
  return pods.filter((p) => {
    const name = p.metadata?.name;
    if (name === undefined || exclude.has(name)) return false;
    if (p.metadata?.labels?.[LABEL_POOL] !== pool) return false;
    if (p.metadata?.resourceVersion === undefined) return false;
    return podAddress(p) !== undefined && isPodReady(p);
  });
}

/** One of `items` at random (`random` in [0, 1)), so gateways claiming at once rarely pick the same pod. */
export function pickRandom<T>(items: readonly T[], random: () => number): T | undefined {
  if (items.length === 0) return undefined;
  const i = Math.min(items.length - 1, Math.floor(random() * items.length));
  return items[i];
}

/** The base URL of the agent of a pod at `address` (IPv6 in brackets). */
export function agentBaseUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
