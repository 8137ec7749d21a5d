import { describe, expect, it } from 'vitest';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import {
  CLAIM_ORPHAN_MS, CLAIM_SETTLE_MS, claimedPodOf, orphanedClaims, planClaimed, unitOfPod, type ClaimedPod,
} from '../../src/controller/resources/claimed.js';
import { claimPatch, poolPodLabels } from '../../src/pools/labels.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const OLD = NOW - 60_000;
const H = 'hash-now';

function pod(name: string, o: Partial<ClaimedPod> = {}): ClaimedPod {
  return { name, uid: `uid-${name}`, hash: H, cost: 0, claimedAt: OLD, deleting: false, ready: true, controlled: true, ...o };
}

/** A Deployment at spec.replicas `replicas` whose controller has seen it, with these status counts. */
function deployment(replicas: number, status: { replicas?: number; updated?: number; available?: number; seen?: boolean } = {}): V1Deployment {
  const r = status.replicas ?? replicas;
  return {
    metadata: { generation: 2 },
    spec: { replicas, selector: {}, template: {} },
    status: { observedGeneration: status.seen === false ? 1 : 2, replicas: r, updatedReplicas: status.updated ?? r, availableReplicas: status.available ?? r },
  };
}

const names = (d: { name: string; reason: string }[]) => d.map((x) => `${x.name}:${x.reason}`);

describe('planClaimed', () => {
  it.each([
    { case: 'no claimed pods: the Deployment runs all', desired: 3, pods: [], dep: deployment(3), replicas: 3, del: [] },
    { case: 'claimed pods cover part', desired: 3, pods: [pod('a'), pod('b')], dep: deployment(3), replicas: 1, del: [] },
    { case: 'claimed pods cover all', desired: 2, pods: [pod('a'), pod('b')], dep: deployment(0), replicas: 0, del: [] },
    { case: 'surplus: lowest deletion cost first', desired: 1, pods: [pod('a', { cost: 5 }), pod('b', { cost: -10 }), pod('c', { cost: 0 })], dep: deployment(0), replicas: 0, del: ['b:surplus', 'c:surplus'] },
    {
      case: 'surplus: then the most recently claimed',
      desired: 2,
      pods: [pod('a', { claimedAt: OLD - 3000 }), pod('b', { claimedAt: OLD }), pod('c', { claimedAt: OLD - 1000 })],
      dep: deployment(0), replicas: 0, del: ['b:surplus'],
    },
    { case: 'scaled to zero: every fresh one goes', desired: 0, pods: [pod('a'), pod('b')], dep: deployment(0), replicas: 0, del: ['a:surplus', 'b:surplus'] },
    { case: 'a pod being deleted counts for nothing', desired: 2, pods: [pod('a'), pod('b', { deleting: true })], dep: deployment(1), replicas: 1, del: [] },
    { case: 'stale: kept while the Deployment\'s new pods start', desired: 1, pods: [pod('a', { hash: 'old' })], dep: deployment(1, { available: 0 }), replicas: 1, del: [] },
    { case: 'stale: kept while the Deployment has not seen its template', desired: 1, pods: [pod('a', { hash: 'old' })], dep: deployment(1, { seen: false }), replicas: 1, del: [] },
    { case: 'stale: kept while old Deployment pods remain', desired: 1, pods: [pod('a', { hash: 'old' })], dep: deployment(1, { replicas: 2, updated: 1, available: 2 }), replicas: 1, del: [] },
    { case: 'stale: kept while the Deployment is not yet at its replicas', desired: 1, pods: [pod('a', { hash: 'old' })], dep: deployment(0), replicas: 1, del: [] },
    { case: 'stale: deleted once the new pods are available', desired: 1, pods: [pod('a', { hash: 'old' })], dep: deployment(1), replicas: 1, del: ['a:stale'] },
    { case: 'stale: deleted at once when desired is 0', desired: 0, pods: [pod('a', { hash: 'old' })], dep: deployment(0, { seen: false }), replicas: 0, del: ['a:stale'] },
    { case: 'stale beside fresh that cover desired: deleted', desired: 1, pods: [pod('a'), pod('b', { hash: 'old' })], dep: deployment(0), replicas: 0, del: ['b:stale'] },
    { case: 'no hash is stale', desired: 1, pods: [pod('a', { hash: undefined })], dep: deployment(1), replicas: 1, del: ['a:stale'] },
    { case: 'failed: deleted at once', desired: 2, pods: [pod('a', { hash: 'failed' }), pod('b')], dep: deployment(1, { available: 0 }), replicas: 1, del: ['a:failed'] },
    { case: 'no Deployment yet', desired: 2, pods: [pod('a')], dep: undefined, replicas: 1, del: [] },
  ])('$case', ({ desired, pods, dep, replicas, del }) => {
    const plan = planClaimed({ desired, specHash: H, pods, deployment: dep, now: NOW });
    expect(plan.deploymentReplicas).toBe(replicas);
    expect(names(plan.delete)).toEqual(del);
  });

  it('lets a new claim neither shrink the Deployment nor be deleted before the gateway\'s scale arrives', () => {
    const young = pod('new', { claimedAt: NOW - 200 });
    // desired still 1 (the scale to 2 not yet seen), the Deployment runs 1: it keeps it, and the claim stays.
    const plan = planClaimed({ desired: 1, specHash: H, pods: [young], deployment: deployment(1), now: NOW });
    expect(plan).toMatchObject({ deploymentReplicas: 1, delete: [], recheckMs: CLAIM_SETTLE_MS - 200 });
    // The scale arrives: the claim covers one of two.
    expect(planClaimed({ desired: 2, specHash: H, pods: [young], deployment: deployment(1), now: NOW }).deploymentReplicas).toBe(1);
    // From zero: the claim keeps the Deployment from starting a pod.
    expect(planClaimed({ desired: 1, specHash: H, pods: [young], deployment: deployment(0), now: NOW }).deploymentReplicas).toBe(0);
    // Settled, a surplus is deleted and the Deployment gives up what the claim covers.
    const later = planClaimed({ desired: 1, specHash: H, pods: [young], deployment: deployment(1), now: NOW + CLAIM_SETTLE_MS });
    expect(later).toMatchObject({ deploymentReplicas: 0, delete: [], recheckMs: 0 });
    expect(names(planClaimed({ desired: 0, specHash: H, pods: [young], deployment: deployment(0), now: NOW + CLAIM_SETTLE_MS }).delete)).toEqual(['new:surplus']);
  });

  it('gives the same replicas after the apply as before it', () => {
    const pods = [pod('a'), pod('b', { claimedAt: NOW - 100 })];
    const before = planClaimed({ desired: 3, specHash: H, pods, deployment: deployment(3), now: NOW });
    const after = planClaimed({ desired: 3, specHash: H, pods, deployment: deployment(before.deploymentReplicas, { available: 0 }), now: NOW });
    expect(after.deploymentReplicas).toBe(before.deploymentReplicas);
  });

  it('adopts live pods without a controller, and counts fresh, stale and ready', () => {
    const plan = planClaimed({
      desired: 3, specHash: H, deployment: deployment(1, { available: 0 }), now: NOW,
      pods: [pod('a', { controlled: false }), pod('b', { ready: false }), pod('c', { hash: 'old', controlled: false }), pod('d', { deleting: true, controlled: false }), pod('e', { hash: 'failed', controlled: false })],
    });
    expect(plan.adopt.map((p) => p.name)).toEqual(['a', 'c']);
    expect(plan).toMatchObject({ fresh: 2, stale: 2, ready: 3 });
  });
});

describe('orphanedClaims', () => {
  it('deletes claimed pods of units that do not exist, once 30 s have passed since the claim', () => {
    const units = new Set(['f', 'f:1']);
    const r = orphanedClaims([
      { unit: 'f', pod: pod('served') },
      { unit: 'f:2', pod: pod('gone-version') },
      { unit: 'g', pod: pod('young', { claimedAt: NOW - 5000 }) },
      { unit: 'g', pod: pod('leaving', { deleting: true }) },
      { unit: undefined, pod: pod('unlabelled', { claimedAt: undefined }) },
    ], units, NOW);
    expect(names(r.delete)).toEqual(['gone-version:orphaned', 'unlabelled:orphaned']);
    expect(r.recheckMs).toBe(CLAIM_ORPHAN_MS - 5000);
  });
});

describe('claimedPodOf and unitOfPod', () => {
  it('read a pod as the gateway\'s claim patch left it', () => {
    const patch = claimPatch({ resourceVersion: '7', pool: 'python', unit: 'hello:3', specHash: 'abc', claimedBy: 'gw-0', now: NOW });
    const labels: Record<string, string> = { ...poolPodLabels('python', 'python') };
    for (const [k, v] of Object.entries(patch.metadata.labels)) {
      if (v === null) delete labels[k];
      else labels[k] = v;
    }
    const p: V1Pod = {
      metadata: {
        name: 'pool-python-x', uid: 'u1', labels, annotations: { ...patch.metadata.annotations, 'controller.kubernetes.io/pod-deletion-cost': '-5' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs', controller: true }],
      },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    };
    expect(claimedPodOf(p)).toEqual({ name: 'pool-python-x', uid: 'u1', hash: 'abc', cost: -5, claimedAt: NOW, deleting: false, ready: true, controlled: true });
    expect(unitOfPod(p)).toBe('hello:3');
    const latest = claimPatch({ resourceVersion: '7', pool: 'python', unit: 'hello', specHash: 'abc', claimedBy: 'gw-0', now: NOW });
    expect(unitOfPod({ metadata: { labels: latest.metadata.labels as Record<string, string> } })).toBe('hello');
  });
});
