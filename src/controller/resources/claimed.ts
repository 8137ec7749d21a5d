// The controller's decisions about a serving unit's claimed warm-pool pods:
// pods a gateway claimed and specialised for the unit, which serve it beside
// (or instead of) its Deployment's pods but belong to no ReplicaSet. They
// count toward the instances the unit should have, so its Deployment is
// asked only for what they do not cover; a surplus one is deleted as a
// scale-down would; one running an older spec is replaced as a rollout
// replaces old pods; one whose specialisation failed goes at once. Pure; the
// reconciler reads the pods and does the deleting and adopting.
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { DELETION_COST_ANNOTATION } from '../../kube/objects.js';
import { ANNOTATION_CLAIMED_AT, ANNOTATION_SPEC_HASH, LABEL_CLAIMED } from '../../pools/labels.js';
import { unitKeyOfLabels } from '../../versions/labels.js';
import { LABEL_FUNCTION } from './names.js';

/** What the gateway writes as a claimed pod's spec hash when its specialisation failed: the pod is deleted at once. */
export const FAILED_SPEC_HASH = 'failed';

/**
 * How long a new claim waits for the scale the gateway writes right after
 * it (claim, specialise, then scale: the controller may see the claimed pod
 * before the new desired count). Meanwhile the claim neither makes the
 * Deployment give up a pod it runs nor is deleted as a surplus.
 */
export const CLAIM_SETTLE_MS = 10_000;

/** A claimed pod whose unit does not exist this long after its claim is deleted (the unit may still be on its way to the cache). */
export const CLAIM_ORPHAN_MS = 30_000;

export interface ClaimedPod {
  name: string;
  uid: string;
  /** instanceSpecHash of what the pod was given (ANNOTATION_SPEC_HASH); FAILED_SPEC_HASH when its specialisation failed. */
  hash: string | undefined;
  /** controller.kubernetes.io/pod-deletion-cost (0 when unset): the gateway marks the pods it would give up first with a low one. */
  cost: number;
  /** Epoch ms of the claim (ANNOTATION_CLAIMED_AT); undefined when unreadable. */
  claimedAt: number | undefined;
  deleting: boolean;
  ready: boolean;
  /** Whether any ownerReference is a controller (the pool's ReplicaSet until it releases the pod, then the unit's owner). */
  controlled: boolean;
}

export function isClaimed(pod: V1Pod): boolean {
  return pod.metadata?.labels?.[LABEL_CLAIMED] === 'true';
}

export function claimedPodOf(pod: V1Pod): ClaimedPod {
  const md = pod.metadata ?? {};
  const cost = Number(md.annotations?.[DELETION_COST_ANNOTATION] ?? 0);
  const at = Date.parse(md.annotations?.[ANNOTATION_CLAIMED_AT] ?? '');
  return {
    name: md.name ?? '',
    uid: md.uid ?? '',
    hash: md.annotations?.[ANNOTATION_SPEC_HASH],
    cost: Number.isFinite(cost) ? cost : 0,
    claimedAt: Number.isFinite(at) ? at : undefined,
    deleting: md.deletionTimestamp !== undefined && md.deletionTimestamp !== null,
    ready: pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    controlled: (md.ownerReferences ?? []).some((r) => r.controller === true),
  };
}

/** The serving unit a pod's labels name (NAME or NAME:N), as the gateway's claim labelled it (the same rule as the gateway's unitKeyOfPod). */
export function unitOfPod(pod: V1Pod): string | undefined {
  return unitKeyOfLabels(pod.metadata?.labels, LABEL_FUNCTION);
}

export type ClaimedDeleteReason = 'surplus' | 'stale' | 'failed' | 'orphaned';

export interface ClaimedDelete {
  name: string;
  uid: string;
  reason: ClaimedDeleteReason;
}

export interface ClaimedInput {
  /** Instances the unit should have (the scale subresource's, else its minimum). */
  desired: number;
  /** instanceSpecHash of the unit's spec now. */
  specHash: string;
  pods: readonly ClaimedPod[];
  /**
   * The unit's Deployment as it now is (after this reconcile's apply), for
   * whether its pods can take over from stale claimed ones and what it runs
   * now; undefined before it exists.
   */
  deployment: V1Deployment | undefined;
  now: number;
}

export interface ClaimedPlan {
  /** The Deployment's spec.replicas: what claimed pods do not cover. */
  deploymentReplicas: number;
  delete: ClaimedDelete[];
  /** Pods released by their pool's ReplicaSet: given the unit's owner as their controller, so they go with it. */
  adopt: { name: string; uid: string }[];
  /** Claimed pods running the current spec, not being deleted. */
  fresh: number;
  /** Claimed pods running an older spec (or none), not being deleted: Updated is not RolledOut while any remain. */
  stale: number;
  /** Claimed pods Ready and not being deleted, for the unit's readyInstances. */
  ready: number;
  /** Come back after this long, when a new claim has settled (0: no need). */
  recheckMs: number;
}

/** Whether the Deployment has rolled out `replicas` pods of its current template and they are all available. */
function newPodsAvailable(d: V1Deployment | undefined, replicas: number): boolean {
  if (d === undefined) return false;
  const s = d.status ?? {};
  const seen = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  return seen && (d.spec?.replicas ?? 1) === replicas && (s.updatedReplicas ?? 0) >= (s.replicas ?? 0) && (s.updatedReplicas ?? 0) >= replicas && (s.availableReplicas ?? 0) >= replicas;
}

/** Which surplus fresh pod goes first: the lowest deletion cost (the gateway's choice), then the most recently claimed. */
function surplusOrder(a: ClaimedPod, b: ClaimedPod): number {
  if (a.cost !== b.cost) return a.cost - b.cost;
  const at = (p: ClaimedPod): number => p.claimedAt ?? 0;
  if (at(a) !== at(b)) return at(b) - at(a);
  return a.name.localeCompare(b.name);
}

export function planClaimed(i: ClaimedInput): ClaimedPlan {
  const live = i.pods.filter((p) => !p.deleting);
  const fresh = live.filter((p) => p.hash === i.specHash);
  const stale = live.filter((p) => p.hash !== i.specHash);
  const settling = (p: ClaimedPod): boolean => p.claimedAt !== undefined && i.now - p.claimedAt < CLAIM_SETTLE_MS;
  const settled = fresh.filter((p) => !settling(p));
  const desired = Math.max(0, i.desired);

  // Claimed pods cover what they can; the Deployment runs the rest. A claim still settling may not make the
  // Deployment give up a pod it runs (the scale that counts the claim may not be here yet); it only holds back new ones.
  const replicas = Math.max(0, desired - Math.min(fresh.length, desired));
  const withoutSettling = Math.max(0, desired - Math.min(settled.length, desired));
  const running = i.deployment?.spec?.replicas;
  const deploymentReplicas = running === undefined ? replicas : Math.min(withoutSettling, Math.max(replicas, running));

  const del: ClaimedDelete[] = [];
  const surplus = fresh.length - desired;
  if (surplus > 0) {
    for (const p of [...settled].sort(surplusOrder).slice(0, surplus)) del.push({ name: p.name, uid: p.uid, reason: 'surplus' });
  }
  const takeOver = desired === 0 || newPodsAvailable(i.deployment, deploymentReplicas);
  for (const p of stale) {
    if (p.hash === FAILED_SPEC_HASH) del.push({ name: p.name, uid: p.uid, reason: 'failed' });
    else if (takeOver) del.push({ name: p.name, uid: p.uid, reason: 'stale' });
  }
  const deleted = new Set(del.map((d) => d.uid));
  const adopt = live.filter((p) => !p.controlled && !deleted.has(p.uid)).map((p) => ({ name: p.name, uid: p.uid }));

  const waits = fresh.filter(settling).map((p) => (p.claimedAt ?? 0) + CLAIM_SETTLE_MS - i.now);
  return {
    deploymentReplicas,
    delete: del,
    adopt,
    fresh: fresh.length,
    stale: stale.length,
    ready: live.filter((p) => p.ready).length,
    recheckMs: waits.length > 0 ? Math.max(1, Math.min(...waits)) : 0,
  };
}

/**
 * Claimed pods whose unit does not exist (the function or version was
 * deleted, or never was): deleted once CLAIM_ORPHAN_MS have passed since
 * the claim, so a unit not yet in the cache is not mistaken for a gone one.
 */
export function orphanedClaims(pods: readonly { unit: string | undefined; pod: ClaimedPod }[], units: ReadonlySet<string>, now: number): { delete: ClaimedDelete[]; recheckMs: number } {
  const del: ClaimedDelete[] = [];
  const waits: number[] = [];
  for (const { unit, pod } of pods) {
    if (pod.deleting || (unit !== undefined && units.has(unit))) continue;
    const age = pod.claimedAt === undefined ? Infinity : now - pod.claimedAt;
    if (age >= CLAIM_ORPHAN_MS) del.push({ name: pod.name, uid: pod.uid, reason: 'orphaned' });
    else waits.push(CLAIM_ORPHAN_MS - age);
  }
  return { delete: del, recheckMs: waits.length > 0 ? Math.max(1, Math.min(...waits)) : 0 };
}
